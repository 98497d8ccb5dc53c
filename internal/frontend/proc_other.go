//go:build !unix

package frontend

import "os/exec"

// ownGroup leaves exec's default cancellation, which kills npm itself: this platform has no
// process groups to kill its children with it.
func ownGroup(*exec.Cmd) {}
