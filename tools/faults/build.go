package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildMarquee builds ./cmd/marquee into dir and says what it built: the working tree, or with rev set that
// revision (in a temporary git worktree that is removed afterwards). A working tree that does not build is an
// error, never a reason to test some other code.
func buildMarquee(ctx context.Context, repo, dir, rev string, logf func(string, ...any)) (bin, what string, err error) {
	bin = filepath.Join(dir, "marquee")
	if rev == "" {
		out, err := goBuild(ctx, repo, bin)
		if err != nil {
			return "", "", fmt.Errorf("build ./cmd/marquee: %w\n%s", err, firstLines(out, 20))
		}
		return bin, "the working tree of " + repo, nil
	}
	what, err = buildRev(ctx, repo, dir, rev, bin)
	return bin, what, err
}

func buildRev(ctx context.Context, repo, dir, rev, bin string) (string, error) {
	sha, err := git(ctx, repo, "rev-parse", "--short", rev+"^{commit}")
	if err != nil {
		return "", err
	}
	wt := filepath.Join(dir, "src-"+sha)
	if _, err := git(ctx, repo, "worktree", "add", "--detach", wt, sha); err != nil {
		return "", err
	}
	defer func() {
		_, _ = git(context.WithoutCancel(ctx), repo, "worktree", "remove", "--force", wt)
		_ = os.RemoveAll(wt)
		_, _ = git(context.WithoutCancel(ctx), repo, "worktree", "prune")
	}()
	if out, err := goBuild(ctx, wt, bin); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", rev, err, firstLines(out, 6))
	}
	subject, _ := git(ctx, repo, "log", "-1", "--format=%s", sha)
	return fmt.Sprintf("commit %s %q (%s)", sha, subject, rev), nil
}

func goBuild(ctx context.Context, dir, bin string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/marquee")
	cmd.Dir = dir
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func git(ctx context.Context, repo string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
