package helm

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/otelshop/shop/internal/app"
	"github.com/otelshop/shop/internal/auth"
)

// cluster answers the chart's lookup calls from a fake API server holding objs,
// as `helm upgrade` would against a cluster where the release already runs.
type cluster struct{ client dynamic.Interface }

func newCluster(t *testing.T, objs ...runtime.Object) cluster {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return cluster{dynamicfake.NewSimpleDynamicClient(scheme, objs...)}
}

func (c cluster) GetClientFor(apiVersion, kind string) (dynamic.NamespaceableResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, err
	}
	return c.client.Resource(gv.WithResource(strings.ToLower(kind) + "s")), true, nil
}

func secretsOf(r *release) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range objectsOf[*corev1.Secret](r) {
		out[s.Name] = map[string]string{}
		for k, v := range s.Data {
			out[s.Name][k] = string(v)
		}
	}
	return out
}

// The client secrets and the stores' passwords are made by the chart, random on
// a first install, and kept on every upgrade (a changed PostgreSQL password
// would lock the services out of a data volume made with the old one).
func TestSecrets_MadeOnceThenKept(t *testing.T) {
	first, err := renderChart(theChart(t), nil, newCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	again, err := renderChart(theChart(t), nil, newCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	made, other := secretsOf(first), secretsOf(again)
	clients := append(app.Names(), auth.AdminClient)
	for _, client := range clients {
		name := client + "-client-secret"
		v := made[name][client+".secret"]
		if len(v) < 32 {
			t.Errorf("%s: %q is no secret of at least 32 characters", name, v)
		}
		if v == other[name][client+".secret"] {
			t.Errorf("%s: two fresh installs made the same secret: it is not random", name)
		}
	}
	for _, store := range []string{"postgres", "redis", "rabbitmq"} {
		name := store + "-credentials"
		pw := made[name]["password"]
		if len(pw) < 32 || !strings.Contains(made[name]["url"], ":"+pw+"@") {
			t.Errorf("%s: password %q, url %q: want a long random password, and the URL with it", name, pw, made[name]["url"])
		}
	}

	// Upgrade: the cluster holds what the first install made.
	var existing []runtime.Object
	for _, s := range objectsOf[*corev1.Secret](first) {
		s := s.DeepCopy()
		s.Namespace = namespace
		existing = append(existing, s)
	}
	upgraded, err := renderChart(theChart(t), nil, newCluster(t, existing...))
	if err != nil {
		t.Fatal(err)
	}
	kept := secretsOf(upgraded)
	for name, data := range made {
		for k, v := range data {
			if kept[name][k] != v {
				t.Errorf("upgrade: %s %s changed from %q to %q", name, k, v, kept[name][k])
			}
		}
	}

	// An operator who set a password by hand keeps it, and the URL follows.
	custom := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "postgres-credentials", Namespace: namespace},
		Data: map[string][]byte{"password": []byte("set-by-the-operator-0123456789abcdef")}}
	withCustom, err := renderChart(theChart(t), nil, newCluster(t, custom))
	if err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(withCustom)["postgres-credentials"]["url"]; !strings.Contains(got, ":set-by-the-operator-0123456789abcdef@") {
		t.Errorf("the URL %q does not use the password the cluster already has", got)
	}
}

// With identity.existingSecret the chart makes no client secret, and each pod
// mounts its own key of the existing one (problems checks which keys).
func TestSecrets_ExistingIdentitySecret(t *testing.T) {
	r, err := renderChart(theChart(t), map[string]any{"identity": map[string]any{"existingSecret": "shop-identity"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems(t, r) {
		t.Error(p)
	}
	for name := range secretsOf(r) {
		if strings.HasSuffix(name, "-client-secret") {
			t.Errorf("Secret %s rendered with an existing identity Secret", name)
		}
	}
}
