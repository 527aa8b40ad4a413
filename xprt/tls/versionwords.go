package tls

// applyVersionWords reads the no-sslv3, no-tlsv1x and force-tlsv1x words
// of one bind or server line together (each alone could seem to leave a
// hole that the others close) and sets the range they give.
func applyVersionWords(words []string, minV, maxV *uint16) error {
	o, err := ParseOptions(words)
	if err != nil {
		return err
	}
	if o.MinVersion != 0 {
		*minV = o.MinVersion
	}
	if o.MaxVersion != 0 {
		*maxV = o.MaxVersion
	}
	return nil
}
