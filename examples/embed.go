// Package examples bundles the example pipelines into the sluice binary,
// so `sluice run` works with nothing else on disk.
package examples

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed orders/spec.yaml orders/orders.csv clicks/spec.yaml
var files embed.FS

// WriteOrders writes the orders example into dir/orders and returns that
// directory.
func WriteOrders(dir string) (string, error) {
	out := filepath.Join(dir, "orders")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("write example: %w", err)
	}
	for _, name := range []string{"spec.yaml", "orders.csv"} {
		data, err := files.ReadFile("orders/" + name)
		if err != nil {
			return "", fmt.Errorf("write example: %w", err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return "", fmt.Errorf("write example: %w", err)
		}
	}
	return out, nil
}

// Spec returns a bundled example's spec by name ("orders").
func Spec(name string) ([]byte, error) {
	data, err := files.ReadFile(name + "/spec.yaml")
	if err != nil {
		return nil, fmt.Errorf("no bundled spec %q", name)
	}
	return data, nil
}
