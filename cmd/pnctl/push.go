package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/daemon"
)

// runPush posts each file as one push, signed with AKSK (or legacy WSSE),
// and fails unless every push is answered 200.
func runPush(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl push", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/v1/notifications", "ingest push URL")
	appKey := fs.String("app-key", "", "platform app key")
	appSecret := fs.String("app-secret", "", "platform app secret; empty sends unsigned pushes")
	wsse := fs.Bool("wsse", false, "sign with the legacy X-WSSE scheme")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each push")
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("push: name at least one FILE")
	}
	signer := &aksk.Signer{AppKey: *appKey, AppSecret: *appSecret, WSSE: *wsse}
	client := &http.Client{Timeout: *timeout}
	var errs []error
	for _, name := range fs.Args() {
		body, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("push %s: %w", name, err))
			continue
		}
		status, answer, err := post(ctx, client, *url, body, signer, *appSecret != "")
		if err != nil {
			errs = append(errs, fmt.Errorf("push %s: %w", name, err))
			continue
		}
		fmt.Fprintf(out, "%s: %d %s\n", name, status, bytes.TrimSpace(answer))
		if status != http.StatusOK {
			errs = append(errs, fmt.Errorf("push %s: answered %d", name, status))
		}
	}
	return errors.Join(errs...)
}

func post(ctx context.Context, client *http.Client, url string, body []byte, signer *aksk.Signer, sign bool) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if sign {
		signer.Sign(req.Header)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, answer, nil
}
