package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// Manifests are the operator's objects found in the input; other kinds are
// counted and left out.
type Manifests struct {
	References         []*iamv1alpha1.RoleExternalReference
	Connections        []*iamv1alpha1.PostHogConnection
	ClusterConnections []*iamv1alpha1.ClusterPostHogConnection
	// Ignored counts the documents of other kinds.
	Ignored int
}

// fileExtensions are those kubectl apply -f reads in a directory.
var fileExtensions = []string{".json", ".yaml", ".yml"}

// ReadManifests reads every path ("-" is stdin; a directory gives its
// .yaml, .yml and .json files, those of its subdirectories too when
// recursive), each a stream of YAML or JSON documents, as kubectl apply -f
// does.
func ReadManifests(paths []string, recursive bool, stdin io.Reader) (Manifests, error) {
	var m Manifests
	for _, path := range paths {
		if path == "-" {
			if err := m.decode("stdin", stdin); err != nil {
				return Manifests{}, err
			}
			continue
		}
		files, err := expand(path, recursive)
		if err != nil {
			return Manifests{}, err
		}
		for _, file := range files {
			if err := m.decodeFile(file); err != nil {
				return Manifests{}, err
			}
		}
	}
	return m, nil
}

// expand is path's files: path itself, or a directory's manifests.
func expand(path string, recursive bool) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", path, err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != path && !recursive:
			return filepath.SkipDir
		case !d.IsDir() && slices.Contains(fileExtensions, filepath.Ext(p)):
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", path, err)
	}
	return files, nil // WalkDir walks in lexical order: a stable plan
}

func (m *Manifests) decodeFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("-f %s: %w", file, err)
	}
	defer func() { _ = f.Close() }()
	return m.decode(file, f)
}

// decode reads a stream of documents from source.
func (m *Manifests) decode(source string, r io.Reader) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", source, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := m.add(doc); err != nil {
			return fmt.Errorf("%s, document %d: %w", source, n, err)
		}
	}
}

// add keeps one document of the operator's kinds (a v1 List's items too).
func (m *Manifests) add(doc []byte) error {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	if meta.APIVersion == "v1" && meta.Kind == "List" {
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := yaml.Unmarshal(doc, &list); err != nil {
			return err
		}
		for _, item := range list.Items {
			if err := m.add(item); err != nil {
				return err
			}
		}
		return nil
	}
	group, _, _ := strings.Cut(meta.APIVersion, "/")
	if group != iamv1alpha1.GroupVersion.Group {
		m.Ignored++
		return nil
	}
	if meta.APIVersion != iamv1alpha1.GroupVersion.String() {
		return fmt.Errorf("apiVersion %s: this plugin knows %s", meta.APIVersion, iamv1alpha1.GroupVersion)
	}
	var obj any
	switch meta.Kind {
	case "RoleExternalReference":
		ref := &iamv1alpha1.RoleExternalReference{}
		m.References, obj = append(m.References, ref), ref
	case iamv1alpha1.KindPostHogConnection:
		conn := &iamv1alpha1.PostHogConnection{}
		m.Connections, obj = append(m.Connections, conn), conn
	case iamv1alpha1.KindClusterPostHogConnection:
		conn := &iamv1alpha1.ClusterPostHogConnection{}
		m.ClusterConnections, obj = append(m.ClusterConnections, conn), conn
	default:
		m.Ignored++
		return nil
	}
	if err := yaml.Unmarshal(doc, obj); err != nil {
		return fmt.Errorf("decoding %s: %w", meta.Kind, err)
	}
	if ref, ok := obj.(*iamv1alpha1.RoleExternalReference); ok {
		ref.Status = iamv1alpha1.RoleExternalReferenceStatus{} // apply ignores it; the cluster's counts
	}
	return nil
}
