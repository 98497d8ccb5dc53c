// Command mathesar-sign writes a detached OpenPGP signature of a release artifact; GoReleaser
// calls it for every artifact. The signature time is SOURCE_DATE_EPOCH when set, so a
// rebuild signs identically.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mathesar-foundation/mathesar-packaging/internal/pgpsign"
)

func main() {
	keyPath := flag.String("key", os.Getenv("MATHESAR_SIGNING_KEY"), "armored OpenPGP secret key file")
	out := flag.String("output", "", "signature file to write (default: ARTIFACT.asc)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mathesar-sign --key KEY [--output SIG] ARTIFACT")
		os.Exit(2)
	}
	if err := run(*keyPath, flag.Arg(0), *out); err != nil {
		fmt.Fprintf(os.Stderr, "mathesar-sign: %v\n", err)
		os.Exit(1)
	}
}

func run(keyPath, artifact, out string) error {
	if keyPath == "" {
		return pgpsign.ErrNoKey
	}
	key, err := pgpsign.LoadKey(keyPath, []byte(os.Getenv("MATHESAR_SIGNING_PASSPHRASE")))
	if err != nil {
		return err
	}
	at := time.Now()
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time", v)
		}
		at = time.Unix(n, 0)
	}
	if out == "" {
		out = artifact + ".asc"
	}
	return pgpsign.SignFile(key, artifact, out, at)
}
