//go:build !unix

package pgsetup

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
)

var errUnsupported = errors.New("switching OS users is only supported on Linux and macOS: configure the database with --connection-string")

func selfCommandAs(*user.User) (*exec.Cmd, error) { return nil, errUnsupported }

func closeExtraFiles(*exec.Cmd) {}

func detach(*exec.Cmd) {}

// processAlive cannot tell on this platform; Running falls back to dialling the socket.
func processAlive(int) bool { return true }

func ownedByMe(os.FileInfo) bool { return true }
