//go:build unix

package frontend

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// ownGroup starts npm in its own process group and makes cancellation kill the whole group:
// npm runs the build through sh and node, and killing npm alone would leave Vite running and
// still writing into OutDir.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
