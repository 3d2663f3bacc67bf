package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one child process that can be started again after it ends: a server of the cluster. Its output
// goes to a log file that every start appends to, so the evidence of earlier runs stays.
type proc struct {
	name string
	path string
	args []string
	env  []string
	log  string // file of stdout and stderr

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current run has been waited for
	exit   error         // the current run's exit status, once done is closed
	starts int
}

// start runs the process; it must not be running.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("%s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", p.name, err)
	}
	p.starts++
	fmt.Fprintf(f, "\n=== faults: start #%d of %s at %s\n", p.starts, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group (a ^C to the harness does not reach it first), and killed if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exit = cmd, done, nil
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		p.mu.Lock()
		p.exit = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process is up (possibly stopped by SIGSTOP).
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// pid is the process id of the current run, 0 if none.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return fmt.Errorf("%s: not running", p.name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// wait waits up to timeout for the current run to end and returns its exit status.
func (p *proc) wait(timeout time.Duration) (done bool, exit error) {
	p.mu.Lock()
	ch := p.done
	p.mu.Unlock()
	if ch == nil {
		return true, nil
	}
	select {
	case <-ch:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.exit
	case <-time.After(timeout):
		return false, nil
	}
}

// kill sends SIGKILL (continuing a stopped process first is not needed: SIGKILL ends it anyway) and waits.
func (p *proc) kill() error {
	if !p.running() {
		return nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil && p.running() {
		return err
	}
	if ok, _ := p.wait(10 * time.Second); !ok {
		return fmt.Errorf("%s: still running 10s after SIGKILL", p.name)
	}
	return nil
}

// terminate sends SIGTERM and waits up to grace, then kills. It returns how long the process took to exit
// and its exit status; forced reports that SIGKILL was needed.
func (p *proc) terminate(grace time.Duration) (took time.Duration, exit error, forced bool, err error) {
	if !p.running() {
		return 0, nil, false, nil
	}
	_ = p.signal(syscall.SIGCONT) // a paused process cannot handle SIGTERM
	t0 := time.Now()
	if err := p.signal(syscall.SIGTERM); err != nil && p.running() {
		return 0, nil, false, err
	}
	ok, exit := p.wait(grace)
	if ok {
		return time.Since(t0), exit, false, nil
	}
	return time.Since(t0), nil, true, p.kill()
}

func isClosed(c chan struct{}) bool {
	if c == nil {
		return true
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// exitedCleanly reports whether exit is a zero exit status.
func exitedCleanly(exit error) bool {
	var ee *exec.ExitError
	return exit == nil || (errors.As(exit, &ee) && ee.ExitCode() == 0)
}
