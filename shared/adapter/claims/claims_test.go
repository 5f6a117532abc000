package claims_test

import (
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/claims"
	"github.com/sluice-etl/sluice/shared/adapter/claims/claimstest"
)

func TestMemConformance(t *testing.T) {
	claimstest.Run(t, func(t *testing.T, now *time.Time) claims.Store {
		return &claims.Mem{Now: func() time.Time { return *now }}
	})
}
