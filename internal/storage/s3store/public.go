package s3store

// PublicURL returns Config.PublicBaseURL followed by key, or "" when none
// is configured. S3 serves it unsigned only if the bucket's policy grants
// s3:GetObject on storage.PublicPrefix (the README has the policy); keys
// are made of URL-safe characters, so the key needs no escaping.
func (s *Store) PublicURL(key string) string {
	if s.publicBase == "" {
		return ""
	}
	return s.publicBase + key
}
