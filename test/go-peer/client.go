package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/status"
)

// callLine is one request read from stdin.
type callLine struct {
	ID      int64  `json:"id"`
	Service string `json:"service"`
	Method  string `json:"method"`
	Payload []byte `json:"payload"` // base64 in JSON
	// TimeoutMs is the deadline sent on the wire (0 = none).
	TimeoutMs int64 `json:"timeout_ms"`
	// LocalTimeoutMs, when set, replaces TimeoutMs as the client's own wait,
	// so a test can let the server's deadline handling answer first.
	LocalTimeoutMs int64             `json:"local_timeout_ms"`
	Metadata       map[string]string `json:"metadata"`
}

// resultLine is one answer written to stdout.
type resultLine struct {
	ID      int64  `json:"id"`
	Code    uint32 `json:"code"`
	Message string `json:"message"`
	Payload string `json:"payload"` // base64
}

// Lines carry payloads up to ttrpc's 4 MiB limit, base64-encoded, and more.
const maxLineBytes = 16 << 20

type wireTimeoutKey struct{}

// wireTimeoutInterceptor sends the deadline chosen by the caller instead of the
// one ttrpc derives from the context, when the two differ.
func wireTimeoutInterceptor(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, _ *ttrpc.UnaryClientInfo, invoke ttrpc.Invoker) error {
	if timeout, ok := ctx.Value(wireTimeoutKey{}).(time.Duration); ok {
		req.TimeoutNano = timeout.Nanoseconds()
	}
	return invoke(ctx, req, resp)
}

func callOnce(client *ttrpc.Client, line callLine) resultLine {
	ctx := context.Background()
	if len(line.Metadata) > 0 {
		// Keys go on the wire exactly as given (MD.Set would lower-case them),
		// so tests decide what the server sees.
		md := ttrpc.MD{}
		for k, v := range line.Metadata {
			md[k] = []string{v}
		}
		ctx = ttrpc.WithMetadata(ctx, md)
	}
	localMs := line.TimeoutMs
	if line.LocalTimeoutMs > 0 {
		localMs = line.LocalTimeoutMs
		ctx = context.WithValue(ctx, wireTimeoutKey{}, time.Duration(line.TimeoutMs)*time.Millisecond)
	}
	if localMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(localMs)*time.Millisecond)
		defer cancel()
	}

	var resp rawMessage
	err := client.Call(ctx, line.Service, line.Method, &rawMessage{data: line.Payload}, &resp)
	if err == nil {
		return resultLine{ID: line.ID, Payload: base64.StdEncoding.EncodeToString(resp.data)}
	}
	st, ok := status.FromError(err)
	if !ok && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		st = status.FromContextError(err)
	}
	return resultLine{ID: line.ID, Code: uint32(st.Code()), Message: st.Message()}
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket path to dial")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("client: -socket is required")
	}
	conn, err := net.Dial("unix", *socket)
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn, ttrpc.WithUnaryClientInterceptor(wireTimeoutInterceptor))
	defer client.Close()

	// One writer owns stdout so concurrent results never interleave.
	results := make(chan resultLine)
	written := make(chan error, 1)
	go func() {
		out := bufio.NewWriter(os.Stdout)
		enc := json.NewEncoder(out)
		var failed error
		for r := range results {
			if failed != nil {
				continue // keep draining so callers never block
			}
			if err := enc.Encode(r); err != nil {
				failed = err
				continue
			}
			failed = out.Flush()
		}
		written <- failed
	}()
	fmt.Println("READY")

	var calls sync.WaitGroup
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 64<<10), maxLineBytes)
	var inputErr error
	for scanner.Scan() {
		var line callLine
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			inputErr = fmt.Errorf("bad input line: %w", err)
			break
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			results <- callOnce(client, line)
		}()
	}
	if inputErr == nil {
		inputErr = scanner.Err()
	}
	calls.Wait()
	close(results)
	if err := <-written; err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return inputErr
}
