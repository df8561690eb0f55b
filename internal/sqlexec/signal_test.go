package sqlexec_test

import (
	"strconv"
	"syscall"
)

func sigstop(pid string) error { return signal(pid, syscall.SIGSTOP) }
func sigcont(pid string) error { return signal(pid, syscall.SIGCONT) }

func signal(pid string, sig syscall.Signal) error {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return err
	}
	return syscall.Kill(n, sig)
}
