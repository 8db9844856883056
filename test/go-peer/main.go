// Command go-peer is a ttrpc peer built on containerd/ttrpc, used to test and
// measure the TypeScript ttrpc implementation against the reference one.
//
// Subcommands:
//
//	server -socket PATH [-watch-stdin]
//	    Serves ttrpc.test.Echo/Echo and prints READY once listening; stops on
//	    SIGTERM/SIGINT (or stdin EOF with -watch-stdin). Echo sleeps sleep_ms
//	    (or until the call's deadline, answering DEADLINE_EXCEEDED), fails with
//	    fail_code/fail_message when fail_code != 0, and otherwise answers the
//	    request's data, the milliseconds left before the call's deadline (0
//	    when it has none) and the first value of each request metadata key.
//	client -socket PATH
//	    Dials once, prints READY, then reads JSON call lines on stdin and runs
//	    each in its own goroutine over that one connection, writing one JSON
//	    result line per call. Exits once stdin is closed and every call is answered.
//	    In:  {"id":N,"service":S,"method":M,"payload":BASE64,"timeout_ms":T,
//	          "local_timeout_ms":L,"metadata":{"k":"v"}}  (T: wire deadline and,
//	          unless L > 0, the client's own wait; L: the client's own wait)
//	    Out: {"id":N,"code":C,"message":"...","payload":BASE64}  (code 0 = OK)
//	bench-client -socket PATH -size BYTES -concurrency C -count N -warmup W
//	    Runs N Echo calls from C workers on one connection and prints one JSON
//	    line of latency percentiles and throughput.
package main

import (
	"fmt"
	"os"
)

const usage = "usage: go-peer server|client|bench-client -socket PATH [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	commands := map[string]func([]string) error{
		"server":       runServer,
		"client":       runClient,
		"bench-client": runBenchClient,
	}
	run, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "go-peer %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
