// Command mathesar runs and administers Mathesar from its bundle.
package main

import (
	"os"

	"github.com/mathesar-foundation/mathesar-packaging/internal/cli"
	"github.com/mathesar-foundation/mathesar-packaging/internal/pgsetup"
)

func main() {
	// A copy of this program re-executed as the postgres user to create the database.
	if pgsetup.ChildMain() {
		return
	}
	os.Exit(cli.Main(os.Args[1:]))
}
