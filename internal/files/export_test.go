package files

// MarksWaiting is how many deleteFile calls wait for their mark's batch.
func MarksWaiting(s *Service) int {
	return s.marks.len()
}
