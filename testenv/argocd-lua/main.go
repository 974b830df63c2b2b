// Command argocd-lua runs Argo CD resource-customization Lua scripts (health checks, action
// discovery, actions) against one Kubernetes object given as JSON, in a Lua state set up the way
// Argo CD sets up its own (github.com/yuin/gopher-lua, no standard libraries but package, base
// and table, a safe `os` with only date and time reachable through require("os"), the object as
// the global `obj`, one second to run). Test infrastructure for fledge; see README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

const usage = `usage:
  argocd-lua health    [--open-libs] SCRIPT OBJ.json
  argocd-lua discovery [--open-libs] SCRIPT OBJ.json
  argocd-lua action    [--open-libs] [--merge-patch] SCRIPT OBJ.json
OBJ.json may be - for standard input.`

// scriptTimeout is how long Argo CD lets one script run.
const scriptTimeout = time.Second

// healthStatuses are the statuses Argo CD accepts from a health script; anything else becomes
// Unknown with invalidHealthStatus as the message, as in Argo CD.
var healthStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

const invalidHealthStatus = "Lua returned an invalid health status"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet("argocd-lua "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	openLibs := fs.Bool("open-libs", false, "open all of gopher-lua's standard libraries (Argo CD's resource.customizations.useOpenLibs)")
	mergePatch := fs.Bool("merge-patch", false, "action: print the JSON merge patch Argo CD would send instead of the object")
	if err := fs.Parse(os.Args[2:]); err != nil || fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if *mergePatch && cmd != "action" {
		fmt.Fprintln(os.Stderr, "argocd-lua: --merge-patch is for the action command")
		os.Exit(2)
	}
	scriptPath, objPath := fs.Arg(0), fs.Arg(1)

	chunk := filepath.Base(scriptPath)
	var run func(script string, obj map[string]any) (any, error)
	switch cmd {
	case "health":
		run = func(s string, o map[string]any) (any, error) { return health(chunk, s, o, *openLibs) }
	case "discovery":
		run = func(s string, o map[string]any) (any, error) { return discovery(chunk, s, o, *openLibs) }
	case "action":
		run = func(s string, o map[string]any) (any, error) { return action(chunk, s, o, *openLibs, *mergePatch) }
	default:
		fmt.Fprintf(os.Stderr, "argocd-lua: unknown command %q\n%s\n", cmd, usage)
		os.Exit(2)
	}

	out, err := func() (any, error) {
		script, err := os.ReadFile(scriptPath)
		if err != nil {
			return nil, err
		}
		obj, err := readObject(objPath)
		if err != nil {
			return nil, err
		}
		return run(string(script), obj)
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua %s: %s: %v\n", cmd, scriptPath, err)
		os.Exit(1)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua %s: %s: encoding the result: %v\n", cmd, scriptPath, err)
		os.Exit(1)
	}
	os.Stdout.Write(buf.Bytes())
}

// readObject reads one JSON object; numbers are kept as json.Number so that the output can
// tell integers from fractions.
func readObject(path string) (map[string]any, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %v", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a JSON object", path)
	}
	return obj, nil
}

// runScript runs script with obj as the global `obj` and returns the value the script returned
// (the top of the stack, as Argo CD reads it). The caller closes the state.
func runScript(name, script string, obj map[string]any, openLibs bool) (*lua.LState, lua.LValue, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		if err := L.PCall(1, 0, nil); err != nil {
			L.Close()
			return nil, nil, fmt.Errorf("opening the %s library: %v", lib.name, err)
		}
	}
	// Argo CD registers its safe os functions into the table library (so `table.date` exists
	// and there is no global `os` unless all libraries are open), and preloads them as the
	// module "os": scripts write `local os = require("os")`. Both are reproduced here.
	L.SetFuncs(L.GetGlobal(lua.TabLibName).(*lua.LTable), safeOsFuncs)
	L.PreloadModule(lua.OsLibName, func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), safeOsFuncs))
		return 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	// As L.DoString (what Argo CD calls), with the file's name in error messages.
	fn, err := L.Load(strings.NewReader(script), name)
	if err == nil {
		L.Push(fn)
		err = L.PCall(0, lua.MultRet, nil)
	}
	if err != nil {
		L.Close()
		return nil, nil, err
	}
	ret := lua.LValue(lua.LNil)
	if L.GetTop() > 0 {
		ret = L.Get(-1)
	}
	return L, ret, nil
}

func wantTable(v lua.LValue) (*lua.LTable, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", v.Type())
	}
	return t, nil
}

type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func health(name, script string, obj map[string]any, openLibs bool) (any, error) {
	L, ret, err := runScript(name, script, obj, openLibs)
	if err != nil {
		return nil, err
	}
	defer L.Close()
	t, err := wantTable(ret)
	if err != nil {
		return nil, err
	}
	var hs healthStatus
	for _, f := range []struct {
		key string
		dst *string
	}{{"status", &hs.Status}, {"message", &hs.Message}} {
		switch v := t.RawGetString(f.key).(type) {
		case lua.LString:
			*f.dst = string(v)
		case *lua.LNilType:
		default:
			return nil, fmt.Errorf("health %s must be a string, not %s", f.key, v.Type())
		}
	}
	if !healthStatuses[hs.Status] {
		return healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
	}
	return hs, nil
}

type resourceAction struct {
	Disabled    bool   `json:"disabled"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

func discovery(name, script string, obj map[string]any, openLibs bool) (any, error) {
	L, ret, err := runScript(name, script, obj, openLibs)
	if err != nil {
		return nil, err
	}
	defer L.Close()
	t, err := wantTable(ret)
	if err != nil {
		return nil, err
	}
	actions := map[string]resourceAction{}
	var ferr error
	t.ForEach(func(k, v lua.LValue) {
		if ferr != nil {
			return
		}
		name, ok := k.(lua.LString)
		if !ok {
			ferr = fmt.Errorf("action names must be strings, not %s %v", k.Type(), k)
			return
		}
		def, ok := v.(*lua.LTable)
		if !ok {
			ferr = fmt.Errorf("action %q: expect a table, not %s", string(name), v.Type())
			return
		}
		var a resourceAction
		// As in Argo CD: an action is enabled unless `disabled` is the boolean true.
		if b, ok := def.RawGetString("disabled").(lua.LBool); ok {
			a.Disabled = bool(b)
		}
		if s, ok := def.RawGetString("iconClass").(lua.LString); ok {
			a.IconClass = string(s)
		}
		if s, ok := def.RawGetString("displayName").(lua.LString); ok {
			a.DisplayName = string(s)
		}
		actions[string(name)] = a
	})
	if ferr != nil {
		return nil, ferr
	}
	return actions, nil
}

func action(name, script string, obj map[string]any, openLibs, mergePatch bool) (any, error) {
	L, ret, err := runScript(name, script, obj, openLibs)
	if err != nil {
		return nil, err
	}
	defer L.Close()
	t, err := wantTable(ret)
	if err != nil {
		return nil, err
	}
	if isList(t) {
		return nil, errors.New("the script returned a list (Argo CD's impacted-resources form); this harness runs only actions that return the modified obj")
	}
	out, err := fromLua(t, obj, map[*lua.LTable]bool{})
	if err != nil {
		return nil, err
	}
	newObj, ok := out.(map[string]any)
	if !ok {
		return nil, errors.New("the script did not return an object")
	}
	if k, _ := newObj["kind"].(string); k == "" {
		return nil, errors.New("the returned object has no kind")
	}
	if mergePatch {
		p := createMergePatch(obj, newObj)
		if p == nil {
			return map[string]any{}, nil
		}
		return p, nil
	}
	return newObj, nil
}
