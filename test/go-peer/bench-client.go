package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
)

// benchResult is the one JSON line bench-client prints.
//
// Throughput counts, per call, the request payload bytes plus the response
// payload bytes (the encoded EchoRequest and EchoResponse carried inside the
// ttrpc Request/Response, without ttrpc framing), over the wall time of the
// measured calls, in MB/s with MB = 10^6 bytes.
type benchResult struct {
	P50Us   float64 `json:"p50_us"`
	P99Us   float64 `json:"p99_us"`
	Calls   int     `json:"calls"`
	Seconds float64 `json:"seconds"`
	MBPerS  float64 `json:"mb_per_s"`
}

// percentile uses the nearest-rank method on sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// runCalls makes count calls with the given number of workers; latencies, when
// not nil, receives each call's duration. It stops at the first failure.
func runCalls(client *ttrpc.Client, payload []byte, workers, count int, latencies []time.Duration) (int64, error) {
	var (
		next          int64 = -1
		responseBytes int64
		firstErr      error
		errOnce       sync.Once
		wg            sync.WaitGroup
		failed        atomic.Bool
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(count) {
					return
				}
				var resp rawMessage
				start := time.Now()
				err := client.Call(context.Background(), echoService, echoMethod, &rawMessage{data: payload}, &resp)
				elapsed := time.Since(start)
				// The request sets only data, so the echoed reply encodes to the same bytes.
				if err == nil && len(resp.data) != len(payload) {
					err = fmt.Errorf("reply of %d bytes to a request of %d", len(resp.data), len(payload))
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
				atomic.AddInt64(&responseBytes, int64(len(resp.data)))
				if latencies != nil {
					latencies[i] = elapsed
				}
			}
		}()
	}
	wg.Wait()
	return responseBytes, firstErr
}

func runBenchClient(args []string) error {
	fs := flag.NewFlagSet("bench-client", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket path to dial")
	size := fs.Int("size", 1024, "bytes of data in each EchoRequest")
	concurrency := fs.Int("concurrency", 1, "concurrent workers sharing the one connection")
	count := fs.Int("count", 1000, "measured calls")
	warmup := fs.Int("warmup", 100, "unmeasured calls made first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return errors.New("bench-client: -socket is required")
	}
	if *size < 0 || *concurrency < 1 || *count < 1 || *warmup < 0 {
		return errors.New("bench-client: need size >= 0, concurrency >= 1, count >= 1, warmup >= 0")
	}

	conn, err := net.Dial("unix", *socket)
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()

	data := make([]byte, *size)
	for i := range data {
		data[i] = byte(i)
	}
	payload := echoRequest{data: data}.encode()

	if _, err := runCalls(client, payload, *concurrency, *warmup, nil); err != nil {
		return fmt.Errorf("warmup: %w", err)
	}
	latencies := make([]time.Duration, *count)
	start := time.Now()
	responseBytes, err := runCalls(client, payload, *concurrency, *count, latencies)
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("measured calls: %w", err)
	}

	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	totalBytes := int64(len(payload))*int64(*count) + responseBytes
	result := benchResult{
		P50Us:   float64(percentile(latencies, 50).Nanoseconds()) / 1e3,
		P99Us:   float64(percentile(latencies, 99).Nanoseconds()) / 1e3,
		Calls:   *count,
		Seconds: wall.Seconds(),
		MBPerS:  float64(totalBytes) / 1e6 / wall.Seconds(),
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}
