package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long:  "Prints the completion script for a shell. Load it in the current shell, or install it for every new one.",
		Example: `  source <(db9 completion bash)
  db9 completion zsh > "${fpath[1]}/_db9"
  db9 completion fish > ~/.config/fish/completions/db9.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      exactArgs(1, "one shell: bash, zsh or fish"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return usage(fmt.Errorf("unknown shell %q: want bash, zsh or fish", args[0]), "db9 completion --help")
		},
	}
}
