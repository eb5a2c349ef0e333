package helm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/otelshop/shop/internal/app"
)

// overlay is the part of the collector's Kubernetes overlay this test reads.
type overlay struct {
	Receivers struct {
		Prometheus struct {
			Config struct {
				ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
			} `yaml:"config"`
		} `yaml:"prometheus"`
	} `yaml:"receivers"`
}

type scrapeConfig struct {
	JobName             string `yaml:"job_name"`
	ScrapeInterval      string `yaml:"scrape_interval"`
	KubernetesSDConfigs []struct {
		Role       string `yaml:"role"`
		Namespaces struct {
			Names []string `yaml:"names"`
		} `yaml:"namespaces"`
		Selectors []struct {
			Role  string `yaml:"role"`
			Label string `yaml:"label"`
		} `yaml:"selectors"`
	} `yaml:"kubernetes_sd_configs"`
	RelabelConfigs []*relabel.Config `yaml:"relabel_configs"`
	StaticConfigs  []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

// collectorOverlay reads the rendered overlay as one collector replica sees it:
// ${env:COLLECTOR_SHARD} expanded to its ordinal and $$ to $, as the
// collector's configuration resolver does.
func collectorOverlay(t *testing.T, r *release, shard int) (overlay, string) {
	t.Helper()
	var cm *corev1.ConfigMap
	for _, c := range objectsOf[*corev1.ConfigMap](r) {
		if c.Name == "otel-collector" {
			cm = c
		}
	}
	if cm == nil {
		t.Fatal("no otel-collector ConfigMap")
	}
	text := cm.Data["kubernetes.yaml"]
	expanded := strings.ReplaceAll(strings.ReplaceAll(text, "${env:COLLECTOR_SHARD}", strconv.Itoa(shard)), "$$", "$")
	var o overlay
	if err := yaml.UnmarshalStrict([]byte(expanded), &o); err != nil {
		t.Fatalf("the collector's Kubernetes overlay: %v", err)
	}
	return o, text
}

// The collector scrapes every pod of every shop service at its admin port, and
// nothing else (problems checks this for every value set; here for the
// defaults and three replicas of everything with two collectors).
func TestCollector_ScrapesEveryShopPodOnce(t *testing.T) {
	for _, vs := range []valueSet{{Name: "defaults"}, {Name: "ha", Files: []string{"testdata/ha.yaml"}}} {
		t.Run(vs.Name, func(t *testing.T) {
			c := &checker{t: t, r: render(t, vs), compose: repo(t)}
			pods, collectors := c.scraping()
			for _, p := range c.problems {
				t.Error(p)
			}
			t.Logf("%d shop pods, %d collectors: each pod scraped once", pods, collectors)
		})
	}
}

// scraping applies the collector's Kubernetes discovery and relabelling, as
// Prometheus's pod discovery would present each pod's ports, to three pods of
// every Deployment the release runs: each shop pod's admin port is scraped by
// exactly one collector replica, with instance naming the pod, and nothing else
// is scraped.
func (c *checker) scraping() (pods, collectors int) {
	t, r := c.t, c.r
	w, ok := findWorkload(r, "otel-collector")
	if !ok {
		return 0, 0
	}
	replicas := int(*w.Replicas)
	if !strings.Contains(strings.Join(w.Pod.Spec.Containers[0].Args, " "), "--config=/etc/otelcol/kubernetes.yaml") {
		c.add("the collector does not read its Kubernetes overlay: args %q", w.Pod.Spec.Containers[0].Args)
	}
	if e, ok := envVar(w.Pod.Spec.Containers[0], "COLLECTOR_SHARD"); !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		c.add("the collector's COLLECTOR_SHARD is not its StatefulSet pod's index: %+v", e)
	}
	targets := discoveredTargets(t, r, 3)
	scraped := map[string]int{}
	perShard := make([]int, replicas)
	for shard := range replicas {
		o, _ := collectorOverlay(t, r, shard)
		job, ok := c.shopJob(o)
		if !ok {
			return 0, replicas
		}
		for _, rc := range job.RelabelConfigs {
			if err := rc.Validate(model.UTF8Validation); err != nil {
				c.add("the collector's relabel config %+v: %v", rc, err)
				return 0, replicas
			}
		}
		sd := job.KubernetesSDConfigs[0]
		for _, tg := range targets {
			if !slicesContains(sd.Namespaces.Names, namespace) || !selectedByDiscovery(t, sd.Selectors[0].Label, tg.podLabels) {
				continue
			}
			lb := labels.NewBuilder(tg.labels)
			if !relabel.ProcessBuilder(lb, job.RelabelConfigs...) {
				continue
			}
			out := lb.Labels()
			if want := tg.pod + ":" + strconv.Itoa(adminPort); out.Get("instance") != want {
				c.add("the collector scrapes %s as instance %q, want %q", tg.pod, out.Get("instance"), want)
			}
			if tg.port != "admin" {
				c.add("the collector scrapes %s's port %s; only the admin port serves /metrics", tg.pod, tg.port)
			}
			scraped[tg.pod]++
			perShard[shard]++
		}
	}
	for shard, n := range perShard {
		if n == 0 {
			c.add("collector replica %d scrapes no pod: the shards do not share the work", shard)
		}
	}
	for _, d := range app.Registry {
		for i := range 3 {
			pod := fmt.Sprintf("%s-6d4cf56db6-%05d", d.Name, i)
			pods++
			if scraped[pod] != 1 {
				c.add("shop pod %s is scraped by %d of %d collectors, want exactly 1", pod, scraped[pod], replicas)
			}
			delete(scraped, pod)
		}
	}
	for pod, n := range scraped {
		c.add("the collector scrapes %s (%d times), which runs no shop service", pod, n)
	}
	return pods, replicas
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *checker) shopJob(o overlay) (scrapeConfig, bool) {
	jobs := map[string]bool{}
	for _, j := range o.Receivers.Prometheus.Config.ScrapeConfigs {
		jobs[j.JobName] = true
	}
	// The overlay replaces the repository's scrape list: its otelcol job must
	// still be there.
	if !jobs["otelcol"] {
		c.add("the collector's overlay drops its own job (otelcol): lists are replaced when the collector merges files")
	}
	for _, j := range o.Receivers.Prometheus.Config.ScrapeConfigs {
		if j.JobName == "shop" {
			if len(j.KubernetesSDConfigs) != 1 || j.KubernetesSDConfigs[0].Role != "pod" || len(j.KubernetesSDConfigs[0].Selectors) != 1 {
				c.add("the collector's job shop: want one pod discovery with one selector, got %+v", j.KubernetesSDConfigs)
				return j, false
			}
			return j, true
		}
	}
	c.add("the collector's overlay has no shop job (the alerts and dashboards read job=\"shop\")")
	return scrapeConfig{}, false
}

// target is one port of one pod, labelled as Prometheus's pod discovery labels it.
type target struct {
	pod, port string
	podLabels map[string]string
	labels    labels.Labels
}

// discoveredTargets lists every container port of every pod the release would
// run (replicas pods per Deployment, one per StatefulSet replica).
func discoveredTargets(t *testing.T, r *release, replicas int) []target {
	t.Helper()
	var out []target
	ip := 0
	for _, w := range workloads(r) {
		n := replicas
		if w.Kind == "StatefulSet" {
			n = int(*w.Replicas)
		}
		for i := range n {
			pod := fmt.Sprintf("%s-6d4cf56db6-%05d", w.Name, i)
			if w.Kind == "StatefulSet" {
				pod = fmt.Sprintf("%s-%d", w.Name, i)
			}
			ip++
			for _, ctr := range w.Pod.Spec.Containers {
				for _, p := range ctr.Ports {
					b := labels.NewBuilder(labels.EmptyLabels())
					b.Set(model.AddressLabel, fmt.Sprintf("10.0.%d.%d:%d", ip/250, ip%250, p.ContainerPort))
					b.Set(model.JobLabel, "shop")
					b.Set("__meta_kubernetes_namespace", namespace)
					b.Set("__meta_kubernetes_pod_name", pod)
					b.Set("__meta_kubernetes_pod_phase", "Running")
					b.Set("__meta_kubernetes_pod_container_name", ctr.Name)
					b.Set("__meta_kubernetes_pod_container_port_name", p.Name)
					b.Set("__meta_kubernetes_pod_container_port_number", strconv.Itoa(int(p.ContainerPort)))
					for k, v := range w.Pod.Labels {
						b.Set("__meta_kubernetes_pod_label_"+strings.NewReplacer(".", "_", "/", "_", "-", "_").Replace(k), v)
					}
					out = append(out, target{pod: pod, port: p.Name, podLabels: w.Pod.Labels, labels: b.Labels()})
				}
			}
		}
	}
	return out
}

// selectedByDiscovery applies a pod discovery's label selector (the API
// server's syntax) to a pod's labels.
func selectedByDiscovery(t *testing.T, selector string, podLabels map[string]string) bool {
	t.Helper()
	sel, err := k8slabels.Parse(selector)
	if err != nil {
		t.Fatalf("selector %q: %v", selector, err)
	}
	return sel.Matches(k8slabels.Set(podLabels))
}

// The built collector (bin/otelcol, make tools) accepts the repository's
// configuration merged with the rendered Kubernetes overlay, alone and with the
// tail-sampling overlay after it, as collector.extraConfig would put it.
func TestCollector_ValidatesTheMergedConfiguration(t *testing.T) {
	bin := filepath.Join(mustAbs(repoRoot), "bin", "otelcol")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: make test builds it first (make tools)", bin)
		}
		t.Skipf("%s is not built (make tools): the overlay is checked by TestCollector_ScrapesEveryShopPodOnce only", bin)
	}
	r := render(t, valueSet{Name: "defaults"})
	_, text := collectorOverlay(t, r, 0)
	dir := t.TempDir()
	overlayFile := filepath.Join(dir, "kubernetes.yaml")
	if err := os.WriteFile(overlayFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{nil, {"--config", filepath.Join(mustAbs(repoRoot), "otel-collector.tail-sampling.yaml")}} {
		args := append([]string{"validate", "--config", filepath.Join(mustAbs(repoRoot), "otel-collector.yaml"), "--config", overlayFile}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "COLLECTOR_SHARD=0", "OTELCOL_LISTEN_HOST=0.0.0.0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("otelcol %v: %v\n%s", args, err, out)
		}
	}
}
