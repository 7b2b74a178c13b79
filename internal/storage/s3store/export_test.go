package s3store

// SetPageSize makes list calls return at most n items a page.
func (s *Store) SetPageSize(n int32) { s.pageSize = n }
