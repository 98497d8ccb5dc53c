// Command genfixture writes the Mathesar-shaped test source tree, and optionally the sample
// wheelhouse its requirements.txt pins, so a build from MATHESAR_SRC can be tried offline:
//
//	go run ./internal/mathesarfixture/cmd/genfixture /tmp/mathesar /tmp/wheelhouse
//	MATHESAR_SRC=/tmp/mathesar MATHESAR_WHEELHOUSE=/tmp/wheelhouse go tool mage release
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mathesar-foundation/mathesar-packaging/internal/mathesarfixture"
	"github.com/mathesar-foundation/mathesar-packaging/internal/samplewheels"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: genfixture SOURCE_DIR [WHEELHOUSE_DIR]")
		os.Exit(2)
	}
	st, err := mathesarfixture.Generate(os.Args[1], mathesarfixture.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfixture:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d files, %.1f MB (%d catalogs, %d front-end files)\n", os.Args[1], st.Files, float64(st.Bytes)/1e6, st.POFiles, st.UIFiles)
	if len(os.Args) == 3 {
		wheels, err := samplewheels.BuildWheelhouse(context.Background(), os.Args[2], samplewheels.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "genfixture:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d wheels\n", os.Args[2], len(wheels))
	}
}
