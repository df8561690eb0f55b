package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/pgbin"
)

func newAdminCmd(env Env) *cobra.Command {
	admin := &cobra.Command{
		Use:     "admin",
		Short:   "Operator commands that work on the server's catalog directly",
		Example: "  db9 admin customer create --email ops@example.com",
	}
	customer := &cobra.Command{Use: "customer", Short: "Manage customers",
		Example: "  db9 admin customer create --email ops@example.com --data-dir /var/lib/db9"}
	defaults, _ := config.Defaults().FromEnv(getenv(env))
	dataDir, catalogURL := defaults.DataDir, defaults.CatalogURL
	var email string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create --email EMAIL",
		Short: "Create a full (non-anonymous) customer and print an API token for it",
		Long: "Creates a customer directly in the catalog — the operator's way in to a self-hosted install.\n" +
			"Works whether the server is running or not, on --data-dir's managed catalog or on --catalog-url.",
		Example: `  db9 admin customer create --email ops@example.com --data-dir /var/lib/db9
  export DB9_API_KEY=$(db9 admin customer create --email me@example.com --json | jq -r .token)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if email == "" {
				return fmt.Errorf("--email is required")
			}
			ctx := cmd.Context()
			cfg := catalog.Config{URL: catalogURL, UseRunning: true}
			if catalogURL == "" {
				abs, err := filepath.Abs(dataDir)
				if err != nil {
					return err
				}
				bin, err := pgbin.Find()
				if err != nil {
					return err
				}
				runAs, err := pgbin.ResolveRunAs()
				if err != nil {
					return err
				}
				cfg.DataDir, cfg.Bin, cfg.RunAs = abs, bin, runAs
			}
			cat := catalog.New(cfg)
			if err := cat.Open(ctx); err != nil {
				return fmt.Errorf("open catalog: %w", err)
			}
			defer cat.Close(ctx)
			cust, token, err := control.CreateCustomer(ctx, cat, email)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(map[string]string{"customer_id": cust.ID, "email": cust.Email, "token": token})
			}
			fmt.Fprintf(out, "customer_id: %s\nemail:       %s\ntoken:       %s\n", cust.ID, cust.Email, token)
			return nil
		},
	}
	create.Flags().StringVar(&email, "email", "", "email of the new customer")
	create.Flags().StringVar(&dataDir, "data-dir", dataDir, "the server's data directory [DB9_DATA_DIR]")
	create.Flags().StringVar(&catalogURL, "catalog-url", catalogURL, "external catalog PostgreSQL URL [DB9_CATALOG_URL]")
	create.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	customer.AddCommand(create)
	admin.AddCommand(customer)
	return admin
}
