package files

// MarksWaiting is how many deleteFile calls wait for their mark's batch.
func MarksWaiting(s *Service) int {
	s.marks.mu.Lock()
	defer s.marks.mu.Unlock()
	return len(s.marks.waiting)
}
