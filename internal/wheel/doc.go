// Package wheel reads, verifies, installs and writes single Python wheel files
// (the binary distribution format of PEP 427 and the packaging specifications), so
// that the bundle builder can lay wheels out as a virtual environment would without
// running pip.
package wheel
