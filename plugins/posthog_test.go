// Package plugins checks the krew plugin manifest: plugins/posthog.yaml is a
// krew-release-bot template, so the test renders it as the bot does (the
// tag for {{ .TagName }}, a digest for each archive) and checks what
// krew-index requires of the result.
package plugins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"
)

// plugin is krew's Plugin (krew.googlecontainertools.github.com/v1alpha2),
// the fields an index manifest may have.
type plugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats,omitempty"`
		Platforms        []platform `json:"platforms"`
	} `json:"spec"`
}

type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files,omitempty"`
}

const (
	manifest  = "posthog.yaml"
	chartFile = "../dist/chart/Chart.yaml"
	releases  = "https://github.com/posthog-operator/posthog-operator/releases/download/"
)

// appVersion is the operator release the chart installs: the one version
// a release tags, and so the plugin's.
func appVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(chartFile)
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	return chart.AppVersion
}

// render renders the template as krew-release-bot does, a digest of each
// archive's URI standing in for the archive's own; it returns the URIs too.
func render(t *testing.T, tag string) ([]byte, []string) {
	t.Helper()
	var uris []string
	addURIAndSha := func(uri, tag string) (string, error) {
		var buf bytes.Buffer
		inner, err := template.New("uri").Parse(uri)
		if err != nil {
			return "", err
		}
		if err := inner.Execute(&buf, struct{ TagName string }{tag}); err != nil {
			return "", err
		}
		uris = append(uris, buf.String())
		sum := sha256.Sum256(buf.Bytes())
		return fmt.Sprintf("uri: %s\n    sha256: %s", buf.String(), hex.EncodeToString(sum[:])), nil
	}
	tmpl, err := template.New(manifest).Funcs(template.FuncMap{"addURIAndSha": addURIAndSha}).ParseFiles(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, struct{ TagName string }{tag}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), uris
}

func TestTheKrewManifestRendersToWhatKrewRequires(t *testing.T) {
	tag := appVersion(t)
	rendered, uris := render(t, tag)
	var p plugin
	if err := yaml.UnmarshalStrict(rendered, &p); err != nil {
		t.Fatalf("the rendered manifest is no krew Plugin: %v\n%s", err, rendered)
	}
	name := strings.TrimSuffix(manifest, filepath.Ext(manifest))
	switch {
	case p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin":
		t.Errorf("apiVersion %q kind %q", p.APIVersion, p.Kind)
	case p.Metadata.Name != name:
		t.Errorf("metadata.name %q, want the file's name %q (krew-index requires it)", p.Metadata.Name, name)
	case p.Spec.Version != tag || !regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(tag):
		t.Errorf("spec.version %q, want the chart's appVersion %q, a semantic version with a v", p.Spec.Version, tag)
	case !strings.HasPrefix(p.Spec.Homepage, "https://"):
		t.Errorf("spec.homepage %q", p.Spec.Homepage)
	case p.Spec.ShortDescription == "" || strings.Contains(p.Spec.ShortDescription, "\n") ||
		len(p.Spec.ShortDescription) > 50:
		t.Errorf("spec.shortDescription %q: want one short line", p.Spec.ShortDescription)
	case strings.TrimSpace(p.Spec.Description) == "":
		t.Error("spec.description is empty")
	}
	if _, err := os.Stat("../cmd/" + "kubectl-" + name); err != nil {
		t.Errorf("no cmd/kubectl-%s builds the plugin's binary: %v", name, err)
	}
	checkPlatforms(t, p.Spec.Platforms, tag)
	if len(uris) != len(p.Spec.Platforms) {
		t.Errorf("%d URIs hashed for %d platforms", len(uris), len(p.Spec.Platforms))
	}
}

// checkPlatforms: linux and darwin on amd64 and arm64, each with its
// selector, this release's archive, a digest and the binary.
func checkPlatforms(t *testing.T, platforms []platform, tag string) {
	t.Helper()
	seen := make([]string, 0, len(platforms))
	for i, pl := range platforms {
		labels := pl.Selector.MatchLabels
		osArch := labels["os"] + "_" + labels["arch"]
		seen = append(seen, osArch)
		switch {
		case labels["os"] == "" || labels["arch"] == "":
			t.Errorf("platform %d: selector %v lacks os or arch", i, labels)
		case pl.URI != releases+tag+"/kubectl-posthog_"+tag+"_"+osArch+".tar.gz":
			t.Errorf("platform %s: uri %q is not this release's archive for it", osArch, pl.URI)
		case !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(pl.SHA256):
			t.Errorf("platform %s: sha256 %q", osArch, pl.SHA256)
		case pl.Bin != "kubectl-posthog":
			t.Errorf("platform %s: bin %q, want kubectl-posthog", osArch, pl.Bin)
		}
	}
	slices.Sort(seen)
	if want := []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"}; !slices.Equal(seen, want) {
		t.Errorf("platforms %v, want %v", seen, want)
	}
}

// Krew refuses a manifest with a placeholder digest: the committed file
// must leave every digest to the release, never carry one.
func TestTheTemplateCarriesNoDigestOfItsOwn(t *testing.T) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*sha256:`).Match(data) {
		t.Error("plugins/posthog.yaml writes a sha256 itself; leave each to addURIAndSha")
	}
	if n := strings.Count(string(data), "{{ addURIAndSha "); n != 4 {
		t.Errorf("%d addURIAndSha calls, want one per platform (4)", n)
	}
}
