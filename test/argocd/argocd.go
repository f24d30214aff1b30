/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package argocd tests the Argo CD health checks in config/argocd: each
// health.lua is run the way Argo CD runs it, with gopher-lua (the Lua 5.1
// interpreter Argo CD embeds), against every case of its health_test.yaml
// and against objects generated from the status contract (docs/gitops.md);
// and the argocd-cm ConfigMap that docs/gitops.md shows holds them verbatim.
//
// Health is the runner, exported so tests elsewhere (internal/controller)
// can feed it objects read back from a real reconcile on a real API server.
package argocd

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// scriptsDir holds the health checks, laid out like Argo CD's own
// resource_customizations: <group>/<Kind>/health.lua.
const scriptsDir = "../../config/argocd/iam.posthog-operator.io"

// scriptTimeout is how long Argo CD lets a health script run.
const scriptTimeout = time.Second

// invalidHealthStatus is the message Argo CD shows, with status Unknown, when
// a script returns a status it does not know.
const invalidHealthStatus = "Lua returned an invalid health status"

// Health runs a health script against obj as Argo CD does for a health
// check installed in argocd-cm: a fresh interpreter with only the package,
// base and table libraries (no string, math or io: Argo CD opens the others
// only for its built-in scripts or with resource.customizations.useOpenLibs),
// the object as the global table obj, a one-second deadline, and the health
// read from the table the script returns.
//
// Like Argo CD it reports a status it does not know as Unknown with
// invalidHealthStatus, and an empty or nil result as an empty status. obj is
// an object as unstructured.Unstructured holds it (numbers as int64 from a
// live object, float64 from YAML); values of other types reach Lua as nil,
// as they do in Argo CD.
func Health(script string, obj map[string]any) (status, message string, err error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	libs := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	}
	for _, lib := range libs {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", fmt.Errorf("opening the Lua %q library: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))

	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	result := l.Get(-1)
	switch result.Type() {
	case lua.LTNil:
		return "", "", nil
	case lua.LTTable:
	default:
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", result.Type())
	}
	table := result.(*lua.LTable)
	if key, _ := table.Next(lua.LNil); key == lua.LNil {
		return "", "", nil
	}
	status, err = stringField(table, "status")
	if err != nil {
		return "", "", err
	}
	message, err = stringField(table, "message")
	if err != nil {
		return "", "", err
	}
	switch status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return status, message, nil
	default:
		return "Unknown", invalidHealthStatus, nil
	}
}

// stringField reads a string field of the table a script returned; Argo CD
// fails a health whose status or message is not a string.
func stringField(table *lua.LTable, name string) (string, error) {
	switch value := table.RawGetString(name).(type) {
	case *lua.LNilType:
		return "", nil
	case lua.LString:
		return string(value), nil
	default:
		return "", fmt.Errorf("the health's %s is a %s, not a string", name, value.Type())
	}
}

// toLua converts an unstructured value to Lua as Argo CD does: maps to
// tables keyed by string, slices to arrays, numbers to numbers, json.Number
// to a string, anything else to nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		array := l.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(l, item))
		}
		return array
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetString(key, toLua(l, item))
		}
		return table
	default:
		return lua.LNil
	}
}
