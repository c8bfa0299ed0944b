package pgembed

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr runs a child in its own process group (so a terminal's Ctrl-C
// reaches only us, and we shut postgres down in order), as acct when non-nil,
// and sends it deathSig when this process dies.
func sysProcAttr(acct *account, deathSig syscall.Signal) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
	if acct != nil {
		attr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: acct.groups}
	}
	return attr
}

// dataDirProcesses lists postgres processes whose working directory is
// dataDir (the postmaster and its backends all chdir there). known is false
// when /proc cannot be read.
func dataDirProcesses(dataDir string) (pids []int, known bool) {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return nil, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != want {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, true
}
