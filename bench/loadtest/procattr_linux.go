package main

import (
	"os/exec"
	"syscall"
)

// endWithHarness makes the kernel stop cmd when the harness process dies,
// so a harness killed with SIGKILL leaves no server or emulator behind.
func endWithHarness(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
