package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mathesar-foundation/mathesar-packaging/internal/config"
	"github.com/mathesar-foundation/mathesar-packaging/internal/envfile"
	"github.com/mathesar-foundation/mathesar-packaging/internal/layout"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show, get and set settings",
		Long: `Settings are Mathesar's environment variables (POSTGRES_*, SECRET_KEY, ALLOWED_HOSTS, ...)
and the launcher's MATHESAR_* ones. Precedence, highest first: command-line flags, the config
file, the environment, defaults (with run -e, the environment wins over the file).`,
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "List every setting, its value (secrets masked) and where it came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.settings(nil, false)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "config file: %s", a.layout.ConfigFile)
			if !res.FileExists {
				fmt.Fprintf(a.stdout, " (does not exist yet; `%s` creates it)", a.setupHint())
			}
			fmt.Fprintf(a.stdout, "\nmode: %s install\n\n", a.layout.Mode)
			writeSettings(a.stdout, res)
			return nil
		},
	}
	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print one setting's value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.settings(nil, false)
			if err != nil {
				return err
			}
			s, ok := res.Get(args[0])
			if !ok {
				return exitError{code: 1}
			}
			fmt.Fprintln(a.stdout, s.Value)
			return nil
		},
	}
	set := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Write a setting to the config file (VALUE - reads it from standard input)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, value := args[0], args[1]
			if !envfile.ValidName(key) {
				return fmt.Errorf("%q is not a valid setting name: use letters, digits and underscores, not starting with a digit", key)
			}
			if value == "-" {
				data, err := io.ReadAll(os.Stdin)
				if err != nil {
					return fmt.Errorf("read the value from standard input: %w", err)
				}
				value = strings.TrimRight(string(data), "\r\n")
			}
			if _, ok := config.Lookup(key); !ok {
				fmt.Fprintf(a.stderr, "warning: %s is not a setting Mathesar or the launcher knows; writing it anyway (check the spelling)\n", key)
			}
			if err := envfile.Set(a.layout.ConfigFile, key, value); err != nil {
				if os.IsPermission(err) {
					return fmt.Errorf("%w; run `sudo mathesar config set`", err)
				}
				return err
			}
			if a.layout.Mode == layout.System {
				fmt.Fprintf(a.stdout, "%s set in %s; restart to apply: sudo systemctl restart mathesar\n", key, a.layout.ConfigFile)
			} else {
				fmt.Fprintf(a.stdout, "%s set in %s\n", key, a.layout.ConfigFile)
			}
			return nil
		},
	}
	// docs/configuration.md promises unset beside set; envfile.Unset does the work.
	unset := &cobra.Command{
		Use:   "unset KEY",
		Short: "Remove a setting from the config file (it then falls back to the environment or the default)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if !envfile.ValidName(key) {
				return fmt.Errorf("%q is not a valid setting name: use letters, digits and underscores, not starting with a digit", key)
			}
			if err := envfile.Unset(a.layout.ConfigFile, key); err != nil {
				if os.IsPermission(err) {
					return fmt.Errorf("%w; run `sudo mathesar config unset`", err)
				}
				return err
			}
			if a.layout.Mode == layout.System {
				fmt.Fprintf(a.stdout, "%s removed from %s; restart to apply: sudo systemctl restart mathesar\n", key, a.layout.ConfigFile)
			} else {
				fmt.Fprintf(a.stdout, "%s removed from %s\n", key, a.layout.ConfigFile)
			}
			return nil
		},
	}
	cmd.AddCommand(show, get, set, unset)
	return cmd
}

func writeSettings(w io.Writer, res *config.Resolved) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, s := range res.All() {
		origin := s.Source.String()
		if s.Origin != "" && s.Origin != origin {
			origin += " (" + s.Origin + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, config.Mask(s), origin)
	}
	tw.Flush()
}
