// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the library
// Flux's health checks use, computes for Kubernetes objects read from files.
//
// Usage: kstatus FILE...
//
// Each FILE holds one Kubernetes object as JSON or YAML. For each FILE one line is printed:
//
//	FILE<TAB>STATUS<TAB>MESSAGE
//
// where STATUS is status.Compute's result (InProgress, Current, Failed, Terminating, Unknown,
// NotFound). A file that cannot be read or parsed, or an error from Compute, ends the run with
// exit code 1 and a message on stderr (lines already printed for earlier files stay printed).
// Test infrastructure only: fledge itself is Rust.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: kstatus FILE...  (each FILE: one Kubernetes object, JSON or YAML)")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		res, err := compute(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %s: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%s\t%s\n", path, res.Status, oneLine(res.Message))
	}
}

func compute(path string) (*status.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// apimachinery's YAML-or-JSON decoder turns one YAML document (or a JSON value) into JSON;
	// the unstructured decoder then keeps integers as int64 (kstatus reads generation and
	// observedGeneration with unstructured.NestedInt64, which rejects float64).
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("parse: no object in the file")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	var more json.RawMessage
	if err := dec.Decode(&more); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		return nil, fmt.Errorf("parse: more than one object in the file, want one")
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if u.IsList() {
		return nil, fmt.Errorf("decode: a list, want one object")
	}
	res, err := status.Compute(u)
	if err != nil {
		return nil, fmt.Errorf("status.Compute: %w", err)
	}
	return res, nil
}

// oneLine keeps the output one line per file: tabs, CRs and newlines in a message become spaces
// (kstatus' messages have none today); everything else is printed as Compute returned it.
func oneLine(s string) string {
	return strings.NewReplacer("\t", " ", "\r", " ", "\n", " ").Replace(s)
}
