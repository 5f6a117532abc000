//go:build !unix

package fileblob

// wakeReader does nothing where there are no FIFOs.
func wakeReader(string) {}
