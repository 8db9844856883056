// vcsim serves govmomi's vCenter simulator on loopback for the vSphere provider's tests.
//
// It builds a small inventory (one datacenter, clusters, standalone hosts, datastores), turns
// one VM into the template clones are made from, prints the SDK URL and the server
// certificate's SHA-1 thumbprint, then READY, and serves until SIGTERM, SIGINT or (with
// -watch-stdin) the end of its standard input. Clones keep VM names unique per folder, as
// vCenter does (see unique-names.go).
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
)

type options struct {
	listen       string
	username     string
	password     string
	clusters     int
	clusterHosts int
	hosts        int
	datastores   int
	template     string
	vmFolder     string
	methodDelay  map[string]int
	plainHTTP    bool
	watchStdin   bool
}

func parseDelays(text string) (map[string]int, error) {
	delays := map[string]int{}
	for _, item := range strings.Split(text, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, "=", 2)
		if len(parts) != 2 {
			return nil, fmt.Errorf("-method-delay item %q is not Method=milliseconds", item)
		}
		ms, err := strconv.Atoi(parts[1])
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("-method-delay item %q: milliseconds must be a non-negative integer", item)
		}
		delays[parts[0]] = ms
	}
	return delays, nil
}

func parseOptions() (options, error) {
	var o options
	var delays string
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on")
	flag.StringVar(&o.username, "username", "user", "the only user name accepted")
	flag.StringVar(&o.password, "password", "pass", "the only password accepted")
	flag.IntVar(&o.clusters, "clusters", 1, "clusters in the datacenter")
	flag.IntVar(&o.clusterHosts, "cluster-hosts", 1, "hosts in each cluster")
	flag.IntVar(&o.hosts, "hosts", 0, "standalone hosts in the datacenter")
	flag.IntVar(&o.datastores, "datastores", 1, "datastores (LocalDS_0, LocalDS_1, ...)")
	flag.StringVar(&o.template, "template", "podvm-template", "name of the template made from the first VM")
	flag.StringVar(&o.vmFolder, "vm-folder", "", "a VM folder to create in the datacenter (none when empty)")
	flag.StringVar(&delays, "method-delay", "", "Method=ms,... delays before serving those methods (e.g. CloneVM_Task=1500)")
	flag.BoolVar(&o.plainHTTP, "http", false, "serve plain HTTP instead of HTTPS")
	flag.BoolVar(&o.watchStdin, "watch-stdin", false, "exit when standard input ends")
	flag.Parse()
	if o.clusters+o.hosts == 0 {
		return o, fmt.Errorf("need at least one cluster or standalone host")
	}
	var err error
	o.methodDelay, err = parseDelays(delays)
	return o, err
}

// prepareInventory turns one simulator VM into the template and creates the extra folder,
// through the SDK as any client would.
func prepareInventory(ctx context.Context, u *url.URL, o options) error {
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return fmt.Errorf("logging in to the simulator: %w", err)
	}
	defer func() { _ = c.Logout(ctx) }()

	finder := find.NewFinder(c.Client, false)
	dc, err := finder.Datacenter(ctx, "DC0")
	if err != nil {
		return err
	}
	finder.SetDatacenter(dc)
	source := "DC0_H0_VM0"
	if o.clusters > 0 {
		source = "DC0_C0_RP0_VM0"
	}
	vm, err := finder.VirtualMachine(ctx, source)
	if err != nil {
		return err
	}
	if err := waitTask(ctx, vm.PowerOff); err != nil {
		return fmt.Errorf("powering off %s: %w", source, err)
	}
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) { return vm.Rename(ctx, o.template) }); err != nil {
		return fmt.Errorf("renaming %s: %w", source, err)
	}
	if err := vm.MarkAsTemplate(ctx); err != nil {
		return fmt.Errorf("marking %s as a template: %w", o.template, err)
	}
	if o.vmFolder != "" {
		folders, err := dc.Folders(ctx)
		if err != nil {
			return err
		}
		if _, err := folders.VmFolder.CreateFolder(ctx, o.vmFolder); err != nil {
			return fmt.Errorf("creating folder %s: %w", o.vmFolder, err)
		}
	}
	return nil
}

func waitTask(ctx context.Context, start func(context.Context) (*object.Task, error)) error {
	task, err := start(ctx)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

func thumbprint(cert []byte) string {
	sum := sha1.Sum(cert)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func run() error {
	o, err := parseOptions()
	if err != nil {
		return err
	}

	model := simulator.VPX()
	model.Cluster = o.clusters
	model.ClusterHost = o.clusterHosts
	model.Host = o.hosts
	model.Datastore = o.datastores
	model.Machine = 1
	model.DelayConfig.MethodDelay = o.methodDelay
	if err := model.Create(); err != nil {
		return fmt.Errorf("creating the inventory: %w", err)
	}
	defer model.Remove() // datastore folders live under the temporary directory

	if !o.plainHTTP {
		model.Service.TLS = new(tls.Config)
	}
	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}
	server := model.Service.NewServer()
	defer server.Close()
	// Set before the first request is made; the server reads its handler per request.
	server.Config.Handler = newUniqueNames(server.Config.Handler)

	if err := prepareInventory(context.Background(), server.URL, o); err != nil {
		return err
	}

	public := *server.URL
	public.User = nil
	fmt.Printf("URL %s\n", public.String())
	if !o.plainHTTP {
		fmt.Printf("THUMBPRINT %s\n", thumbprint(server.TLS.Certificates[0].Certificate[0]))
	}
	fmt.Println("READY")

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGTERM, syscall.SIGINT)
	stdinClosed := make(chan struct{})
	if o.watchStdin {
		go func() {
			reader := bufio.NewReader(os.Stdin)
			for {
				if _, err := reader.ReadByte(); err != nil {
					close(stdinClosed)
					return
				}
			}
		}()
	}
	select {
	case <-done:
	case <-stdinClosed:
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "vcsim: %v\n", err)
		os.Exit(1)
	}
}
