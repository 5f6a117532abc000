//go:build unix

package fileblob

import "syscall"

// wakeReader opens the FIFO at path for writing without blocking, and
// closes it at once: a reader waiting in open returns, and reads the end
// of the stream. It fails, harmlessly, while no reader is waiting.
func wakeReader(path string) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err == nil {
		syscall.Close(fd)
	}
}
