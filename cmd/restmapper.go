package main

import (
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// newCachingRESTMapper is controller-runtime's dynamic REST mapper with the
// mappings it found remembered. Every read of the cache and every write
// asks the mapper whether its kind is namespaced (apiutil.IsObjectNamespaced),
// and the dynamic mapper answers each time by walking a priority mapper over
// every group it knows, allocating a NoMatch error per group it passes: a
// fifth of all the manager allocated while converging 5000 references
// (make bench, heap profiles). A kind's mapping does not change while its
// CRD exists, so the first answer is kept; misses and errors are not, so a
// CRD installed later is still found.
func newCachingRESTMapper(cfg *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
	m, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return &cachingRESTMapper{RESTMapper: m}, nil
}

type cachingRESTMapper struct {
	meta.RESTMapper
	mappings sync.Map // mappingKey -> *meta.RESTMapping
}

type mappingKey struct{ group, kind, version string }

// RESTMapping answers a single version's mapping from memory once found;
// any other request goes to the dynamic mapper.
func (c *cachingRESTMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if len(versions) != 1 {
		return c.RESTMapper.RESTMapping(gk, versions...)
	}
	key := mappingKey{group: gk.Group, kind: gk.Kind, version: versions[0]}
	if m, ok := c.mappings.Load(key); ok {
		return copyMapping(m.(*meta.RESTMapping)), nil
	}
	m, err := c.RESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, err
	}
	c.mappings.Store(key, copyMapping(m))
	return m, nil
}

// copyMapping is a shallow copy: a caller may change the struct it gets
// without changing what the next caller gets (its fields are values and an
// immutable scope).
func copyMapping(m *meta.RESTMapping) *meta.RESTMapping {
	c := *m
	return &c
}
