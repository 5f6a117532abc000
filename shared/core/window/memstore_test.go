package window_test

import (
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/windowstate/windowtest"
	"github.com/sluice-etl/sluice/shared/core/window"
)

func TestMemStoreConformance(t *testing.T) {
	windowtest.Run(t, func(t *testing.T) (window.Store, windowtest.Results) {
		st := &window.MemStore{}
		return st, func(*testing.T) map[string]window.Cell { return st.Results }
	})
}
