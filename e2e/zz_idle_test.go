package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestZZIdle(t *testing.T) {
	needStack(t)
	for i := 0; i < 6; i++ {
		out, _ := exec.Command("sh", "-c", "ps -o rss=,pcpu= -C python3").Output()
		t.Logf("moto rss/cpu: %s", strings.TrimSpace(string(out)))
		time.Sleep(5 * time.Second)
	}
}
