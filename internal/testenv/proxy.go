package testenv

import (
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections to a target until it is taken down, so a
// test can make a real service unreachable mid-flow and bring it back.
type Proxy struct {
	Addr   string
	target string
	l      net.Listener
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
	// stalled holds bytes in both directions while set: the service looks
	// alive but never answers, as a hung store does.
	stalled chan struct{} // nil when flowing; closed to release
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.drop(c)
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(t)
	defer p.drop(t)
	go func() { p.copy(t, c); t.Close() }()
	p.copy(c, t)
}

// copy forwards src to dst, waiting out stalls before each write.
func (p *Proxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stall := p.stalled
			p.mu.Unlock()
			if stall != nil {
				<-stall
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// SetStalled holds all traffic while stalled is true. Ending a stall cuts
// the connections that were held, as a hung store that is restarted does:
// what they carried is never delivered late.
func (p *Proxy) SetStalled(stalled bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case stalled && p.stalled == nil:
		p.stalled = make(chan struct{})
	case !stalled && p.stalled != nil:
		for c := range p.conns {
			c.Close()
		}
		close(p.stalled)
		p.stalled = nil
	}
}

func (p *Proxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
}

func (p *Proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// SetDown refuses new connections and cuts open ones while down is true.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.SetStalled(false)
	p.l.Close()
	p.SetDown(true)
}
