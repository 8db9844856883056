package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	echoService = "ttrpc.test.Echo"
	echoMethod  = "Echo"
	// How long in-flight calls may finish after SIGTERM before connections are cut.
	shutdownGrace = 2 * time.Second
)

// handleEcho implements ttrpc.test.Echo/Echo as the package comment describes.
func handleEcho(ctx context.Context, req echoRequest) (echoResponse, error) {
	if req.sleepMs > 0 {
		timer := time.NewTimer(time.Duration(req.sleepMs) * time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return echoResponse{}, status.FromContextError(ctx.Err()).Err()
		}
	}
	if req.failCode != 0 {
		return echoResponse{}, status.Error(codes.Code(req.failCode), req.failMessage)
	}
	resp := echoResponse{data: req.data, metadata: map[string]string{}}
	if deadline, ok := ctx.Deadline(); ok {
		resp.deadlineRemainingMs = time.Until(deadline).Milliseconds()
	}
	if md, ok := ttrpc.GetMetadata(ctx); ok {
		for k, values := range md {
			if len(values) > 0 {
				resp.metadata[k] = values[0]
			}
		}
	}
	return resp, nil
}

func echoMethodHandler(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	var raw rawMessage
	if err := unmarshal(&raw); err != nil {
		return nil, err
	}
	req, err := decodeEchoRequest(raw.data)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decode EchoRequest: %v", err)
	}
	resp, err := handleEcho(ctx, req)
	if err != nil {
		return nil, err
	}
	return &rawMessage{data: resp.encode()}, nil
}

// removeStaleSocket deletes a socket file left by an earlier run, and refuses
// to delete anything that is not a socket.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	return os.Remove(path)
}

// stdinClosed is closed when stdin reaches EOF: the parent process has gone.
func stdinClosed() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, os.Stdin)
	}()
	return done
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket path to listen on")
	watchStdin := fs.Bool("watch-stdin", false, "shut down when stdin reaches EOF")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("server: -socket is required")
	}
	if err := removeStaleSocket(*socket); err != nil {
		return err
	}

	srv, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	srv.Register(echoService, map[string]ttrpc.Method{echoMethod: echoMethodHandler})

	listener, err := net.Listen("unix", *socket)
	if err != nil {
		return err
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	var parentGone <-chan struct{}
	if *watchStdin {
		parentGone = stdinClosed()
	}

	// Cancelling serveCtx wakes handlers still sleeping when shutdown runs out of grace.
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, listener) }()
	fmt.Println("READY")

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-signals:
	case <-parentGone:
	}

	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		cancelServe()
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
	}
	if err := <-served; !errors.Is(err, ttrpc.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
