// Command permissions prints the Microsoft Graph application permissions a Terraform configuration
// needs: it reads the .tf files of each directory given, finds the entranetskope resources and data
// sources they use, and lists the least-privilege permissions of those, with who needs each.
//
//	go run ./cmd/permissions examples/quickstart
//	make permissions CONFIG=examples/quickstart
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: permissions DIR... (directories of .tf files)")
		os.Exit(2)
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "permissions:", err)
		os.Exit(1)
	}
}

var schema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "data", LabelNames: []string{"type", "name"}},
	{Type: "check", LabelNames: []string{"name"}},
}}

// checkSchema finds the data sources a check block reads (scoped to it).
var checkSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "data", LabelNames: []string{"type", "name"}},
}}

// run prints the permissions the configurations in dirs need.
func run(dirs []string, w io.Writer) error {
	used := map[string]bool{} // "resource entranetskope_x" or "data entranetskope_x"
	parser := hclparse.NewParser()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("%s: no .tf files", dir)
		}
		for _, f := range files {
			file, diags := parser.ParseHCLFile(f)
			if diags.HasErrors() {
				return diags
			}
			content, _, diags := file.Body.PartialContent(schema)
			if diags.HasErrors() {
				return diags
			}
			blocks := content.Blocks
			for _, b := range content.Blocks.OfType("check") {
				inner, _, diags := b.Body.PartialContent(checkSchema)
				if diags.HasErrors() {
					return diags
				}
				blocks = append(blocks, inner.Blocks...)
			}
			for _, b := range blocks {
				if b.Type != "check" && strings.HasPrefix(b.Labels[0], "entranetskope_") {
					used[b.Type+" "+b.Labels[0]] = true
				}
			}
		}
	}
	if len(used) == 0 {
		return fmt.Errorf("%s: no entranetskope resource or data source", strings.Join(dirs, ", "))
	}
	needs := map[string][]string{} // permission -> who needs it
	var kinds []string
	for k := range used {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		kind, typ, _ := strings.Cut(k, " ")
		table, label := provider.ResourcePermissions, typ
		if kind == "data" {
			table, label = provider.DataSourcePermissions, "data."+typ
		}
		perms, ok := table[typ]
		if !ok {
			return fmt.Errorf("%s %q is not a type this provider has", kind, typ)
		}
		for _, p := range perms {
			needs[p] = append(needs[p], label)
		}
	}
	perms := make([]string, 0, len(needs))
	for p := range needs {
		perms = append(perms, p)
	}
	sort.Strings(perms)
	var b strings.Builder
	b.WriteString("Microsoft Graph application permissions to grant (then \"Grant admin consent\"):\n")
	for _, p := range perms {
		fmt.Fprintf(&b, "  %-34s %s\n", p, strings.Join(needs[p], ", "))
	}
	b.WriteString("Why each is needed: docs/guides/permissions.md\n")
	_, err := io.WriteString(w, b.String())
	return err
}
