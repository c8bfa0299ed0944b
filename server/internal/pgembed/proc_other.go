//go:build !linux

package pgembed

import "syscall"

// sysProcAttr runs a child in its own process group, as acct when non-nil.
// Outside Linux there is no parent-death signal: if this process is killed
// with SIGKILL, postgres keeps running until stopped by other means.
func sysProcAttr(acct *account, _ syscall.Signal) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if acct != nil {
		attr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}
	}
	return attr
}

// dataDirProcesses cannot inspect processes outside Linux.
func dataDirProcesses(string) ([]int, bool) { return nil, false }
