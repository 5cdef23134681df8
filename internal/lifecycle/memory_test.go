package lifecycle_test

import (
	"testing"

	"github.com/guardd/guardd/internal/lifecycle"
	"github.com/guardd/guardd/internal/lifecycle/lifecycletest"
)

// TestMemoryContract runs the port contract against Memory.
func TestMemoryContract(t *testing.T) {
	lifecycletest.Run(t, func(*testing.T) lifecycle.Store { return lifecycle.NewMemory() })
}
