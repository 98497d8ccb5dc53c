package pgsetup_test

import (
	"os"
	"testing"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

// TestMain lets this test binary serve as the re-executed helper of EnsureSystemDatabase,
// exactly as the launcher's main() does.
func TestMain(m *testing.M) {
	if pgsetup.ChildMain() {
		return
	}
	os.Exit(m.Run())
}
