// Minimal cAdvisor main for sectorwars, mirroring google/cadvisor cmd/cadvisor.go
// (the github.com/google/cadvisor/cmd module is not served by the Go proxy).
// Built from github.com/google/cadvisor (root: docker/podman plugins, perf,
// resctrl, summary, cpuload, oomparser, validate) + github.com/google/cadvisor/lib
// (manager, metrics, cache, raw/systemd/containerd/crio plugins, fs plugins).
// Omitted vs. official: web UI pages, /api/, /events, storage drivers,
// http auth, application-metrics collectors (cmd/internal/appmetrics) and the
// process list provider (cmd/internal/processlist) -- all cmd-internal.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/stats"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"github.com/google/cadvisor/lib/version"

	"github.com/google/cadvisor/perf"
	"github.com/google/cadvisor/resctrl"
	"github.com/google/cadvisor/summary"
	"github.com/google/cadvisor/utils/cpuload"
	"github.com/google/cadvisor/utils/oomparser"
	"github.com/google/cadvisor/validate"

	// Register container providers (same set as cmd/internal/container/install).
	_ "github.com/google/cadvisor/container/docker/install"
	_ "github.com/google/cadvisor/container/podman/install"
	_ "github.com/google/cadvisor/lib/container/containerd/install"
	_ "github.com/google/cadvisor/lib/container/crio/install"
	_ "github.com/google/cadvisor/lib/container/systemd/install"

	// Register filesystem plugins.
	_ "github.com/google/cadvisor/fs/devicemapper/install"
	_ "github.com/google/cadvisor/lib/fs/btrfs/install"
	_ "github.com/google/cadvisor/lib/fs/nfs/install"
	_ "github.com/google/cadvisor/lib/fs/overlay/install"
	_ "github.com/google/cadvisor/lib/fs/tmpfs/install"
	_ "github.com/google/cadvisor/lib/fs/vfs/install"
	_ "github.com/google/cadvisor/lib/fs/zfs/install"

	// Register CloudProviders.
	_ "github.com/google/cadvisor/utils/cloudinfo/aws"
	_ "github.com/google/cadvisor/utils/cloudinfo/azure"
	_ "github.com/google/cadvisor/utils/cloudinfo/gce"

	// Register resctrl plugin.
	_ "github.com/google/cadvisor/resctrl/intel/install"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

var argIP = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
var argPort = flag.Int("port", 8080, "port to listen")
var maxProcs = flag.Int("max_procs", 0, "max number of CPUs that can be used simultaneously. Less than 1 for default (number of cores).")
var versionFlag = flag.Bool("version", false, "print cAdvisor version and exit")
var prometheusEndpoint = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")
var enableProfiling = flag.Bool("profiling", false, "Enable profiling via web interface host:port/debug/pprof/")
var storeContainerLabels = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
var whitelistedContainerLabels = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")
var envMetadataWhiteList = flag.String("env_metadata_whitelist", "", "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers, only support containerd and docker runtime for now.")
var urlBasePrefix = flag.String("url_base_prefix", "", "prefix path that will be prepended to all paths to support some reverse proxies")
var rawCgroupPrefixWhiteList = flag.String("raw_cgroup_prefix_whitelist", "", "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")
var perfEvents = flag.String("perf_events_config", "", "Path to a JSON file containing configuration of perf events to measure. Empty value disabled perf events measuring.")
var resctrlInterval = flag.Duration("resctrl_interval", 0, "Resctrl mon groups updating interval. Zero value disables updating mon groups.")
var storageDuration = flag.Duration("storage_duration", 2*time.Minute, "How long to keep data stored (Default: 2min).")

var (
	ignoreMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              struct{}{},
		container.NetworkTcpUsageMetrics:         struct{}{},
		container.NetworkUdpUsageMetrics:         struct{}{},
		container.NetworkAdvancedTcpUsageMetrics: struct{}{},
		container.ProcessSchedulerMetrics:        struct{}{},
		container.ProcessMetrics:                 struct{}{},
		container.HugetlbUsageMetrics:            struct{}{},
		container.ReferencedMemoryMetrics:        struct{}{},
		container.CPUTopologyMetrics:             struct{}{},
		container.ResctrlMetrics:                 struct{}{},
		container.CPUSetMetrics:                  struct{}{},
	}
	enableMetrics = container.MetricSet{}
)

func init() {
	optstr := container.AllMetrics.String()
	flag.Var(&ignoreMetrics, "disable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be disabled. Options are %s.", optstr))
	flag.Var(&enableMetrics, "enable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be enabled. If set, overrides 'disable_metrics'. Options are %s.", optstr))

	// Same injection as official cmd/plugins.go (minus cmd-internal appmetrics/processlist).
	manager.PerfManagerFactory = perf.NewManager
	manager.ResctrlManagerFactory = func(interval time.Duration, vendorID string, inHostNamespace bool) (stats.ResctrlManager, error) {
		return resctrl.NewManager(interval, vendorID, inHostNamespace)
	}
	manager.SummaryReaderFactory = func(spec info.ContainerSpec) (manager.SummaryReader, error) {
		return summary.New(spec)
	}
	manager.CpuLoadReaderFactory = func() (manager.CpuLoadReader, error) {
		return cpuload.New()
	}
}

func main() {
	klog.InitFlags(nil)
	defer klog.Flush()
	_ = flag.Set("v", "2")
	flag.Parse()

	if *versionFlag {
		fmt.Printf("cAdvisor version %s (%s)\n", version.Info["version"], version.Info["revision"])
		os.Exit(0)
	}

	var includedMetrics container.MetricSet
	if len(enableMetrics) > 0 {
		includedMetrics = enableMetrics
	} else {
		includedMetrics = container.AllMetrics.Difference(ignoreMetrics)
	}
	klog.V(1).Infof("enabled metrics: %s", includedMetrics.String())
	setMaxProcs()

	klog.V(1).Infof("Caching stats in memory for %v", *storageDuration)
	memoryStorage := memory.New(*storageDuration, nil)
	sysFs := sysfs.NewRealSysFs()

	resourceManager, err := manager.New(memoryStorage, sysFs, manager.HousekeepingConfigFlags, includedMetrics,
		strings.Split(*rawCgroupPrefixWhiteList, ","), strings.Split(*envMetadataWhiteList, ","), *perfEvents, *resctrlInterval)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %s", err)
	}

	mux := http.NewServeMux()
	if *enableProfiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc(validate.ValidatePage, func(w http.ResponseWriter, r *http.Request) {
		if err := validate.HandleRequest(w, resourceManager); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})

	startOOMWatcher()

	containerLabelFunc := metrics.DefaultContainerLabels
	if !*storeContainerLabels {
		whitelistedLabels := strings.Split(*whitelistedContainerLabels, ",")
		for i := range whitelistedLabels {
			whitelistedLabels[i] = strings.TrimSpace(whitelistedLabels[i])
		}
		containerLabelFunc = metrics.BaseContainerLabels(whitelistedLabels)
	}
	registerPrometheusHandler(mux, resourceManager, *prometheusEndpoint, containerLabelFunc, includedMetrics)

	if err := resourceManager.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	installSignalHandler(resourceManager)

	klog.V(1).Infof("Starting cAdvisor version: %s-%s on port %d", version.Info["version"], version.Info["revision"], *argPort)
	rootMux := http.NewServeMux()
	rootMux.Handle(*urlBasePrefix+"/", http.StripPrefix(*urlBasePrefix, mux))
	addr := fmt.Sprintf("%s:%d", *argIP, *argPort)
	klog.Fatal(http.ListenAndServe(addr, rootMux))
}

// registerPrometheusHandler mirrors cmd/internal/http.RegisterPrometheusHandler.
func registerPrometheusHandler(mux *http.ServeMux, m manager.Manager, endpoint string, f metrics.ContainerLabelsFunc, includedMetrics container.MetricSet) {
	goCollector := collectors.NewGoCollector()
	processCollector := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	machineCollector := metrics.NewPrometheusMachineCollector(m, includedMetrics)
	wrapped := &oomInfoProvider{Manager: m}

	mux.Handle(endpoint, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		opts, err := getRequestOptions(req)
		if err != nil {
			http.Error(w, "No metrics gathered, last error:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		opts.Count = 1
		opts.Recursive = true
		r := prometheus.NewRegistry()
		r.MustRegister(
			metrics.NewPrometheusCollector(wrapped, f, includedMetrics, clock.RealClock{}, opts),
			machineCollector,
			goCollector,
			processCollector,
		)
		promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, req)
	}))
}

// getRequestOptions mirrors cmd/internal/api.GetRequestOptions.
func getRequestOptions(r *http.Request) (info.RequestOptions, error) {
	supported := map[string]bool{info.TypeName: true, info.TypeDocker: true, info.TypePodman: true}
	opt := info.RequestOptions{IdType: info.TypeName, Count: 64}
	q := r.URL.Query()
	if t := q.Get("type"); t != "" {
		if !supported[t] {
			return opt, fmt.Errorf("unknown 'type' %q", t)
		}
		opt.IdType = t
	}
	if c := q.Get("count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			return opt, fmt.Errorf("failed to parse 'count' option: %v", c)
		}
		if n < -1 {
			return opt, fmt.Errorf("invalid 'count' option: only -1 and larger values allowed, not %d", n)
		}
		opt.Count = n
	}
	if q.Get("recursive") == "true" {
		opt.Recursive = true
	}
	if s := q.Get("max_age"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return opt, fmt.Errorf("failed to parse 'max_age' option: %v", err)
		}
		opt.MaxAge = &d
	}
	return opt, nil
}

// OOM counting, mirroring cmd/internal/api/oom.go (without the /events API).
var oomCounts = struct {
	sync.Mutex
	byContainer map[string]uint64
}{byContainer: map[string]uint64{}}

func startOOMWatcher() {
	oomLog, err := oomparser.New()
	if err != nil {
		klog.Warningf("Could not configure a source for OOM detection, disabling OOM events: %v", err)
		return
	}
	out := make(chan *oomparser.OomInstance, 10)
	go oomLog.StreamOoms(out)
	go func() {
		for o := range out {
			oomCounts.Lock()
			oomCounts.byContainer[o.ContainerName]++
			oomCounts.Unlock()
		}
	}()
}

type oomInfoProvider struct{ manager.Manager }

func (p *oomInfoProvider) GetRequestedContainersInfo(name string, options info.RequestOptions) (map[string]*info.ContainerInfo, error) {
	infos, err := p.Manager.GetRequestedContainersInfo(name, options)
	oomCounts.Lock()
	defer oomCounts.Unlock()
	for _, ci := range infos {
		count := oomCounts.byContainer[ci.Name]
		for _, s := range ci.Stats {
			s.OOMEvents = count
		}
	}
	return infos, err
}

func setMaxProcs() {
	numProcs := runtime.NumCPU()
	if *maxProcs >= 1 {
		numProcs = *maxProcs
	}
	runtime.GOMAXPROCS(numProcs)
	if actual := runtime.GOMAXPROCS(0); actual != numProcs {
		klog.Warningf("Specified max procs of %v but using %v", numProcs, actual)
	}
}

func installSignalHandler(m manager.Manager) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-c
		if err := m.Stop(); err != nil {
			klog.Errorf("Failed to stop container manager: %v", err)
		}
		klog.Infof("Exiting given signal: %v", sig)
		os.Exit(0)
	}()
}
