package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"marquee/pkg/apperr"
	"marquee/pkg/config"
	"marquee/services/catalog/catalogsvc"
)

// userConfig names the catalog database that `marquee user` works on: the all-in-one's SQLite file under
// data_dir, or a MySQL/MariaDB database.
type userConfig struct {
	DataDir  string `key:"data_dir" usage:"data folder of the all-in-one (its database is <data_dir>/catalog.db)"`
	MySQLDSN string `key:"mysql_dsn" usage:"MySQL/MariaDB DSN or mysql:// URL of the catalog, instead of data_dir; unset: a MySQL add-on's URL (JAWSDB_URL, JAWSDB_MARIA_URL, CLEARDB_DATABASE_URL, a mysql:// DATABASE_URL) if one is set" secret:"true"`
	// Not "password": import, reindex and reconcile read MARQUEE_PASSWORD as the admin's password, and an
	// admin who exported it for them would have given it to every user added.
	NewPassword string `key:"new_password" usage:"password of the new user; read from standard input when empty" secret:"true"`
	Role        string `key:"role" usage:"role of the new user: admin or user"`
}

func newUserCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cfg := userConfig{DataDir: "./var", Role: "user"}
	parent := &cobra.Command{
		Use:   "user",
		Short: "Add, list and remove users, directly in the catalog's database",
		Long: `Add, list and remove users directly in the catalog's database: the all-in-one's
SQLite file under --data-dir, or MySQL with --mysql-dsn (or a MySQL add-on's
URL in the environment). It works whether or not
the server runs; admins can do the same through POST/GET/DELETE /v1/users.`,
	}
	config.Flags(parent.PersistentFlags(), &cfg)
	withUsers := func(cmd *cobra.Command, fn func(ctx context.Context, u *catalogsvc.Users) error) error {
		if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
			return err
		}
		db, src, _, err := openCatalogDatabase(cmd.Context(), cfg.MySQLDSN, cfg.DataDir, 0, getenv)
		if err != nil {
			return err
		}
		defer db.Close()
		users, err := catalogsvc.OpenUsers(cmd.Context(), db, src.Dialect)
		if err != nil {
			return err
		}
		return clientError(fn(cmd.Context(), users))
	}
	parent.AddCommand(
		&cobra.Command{
			Use:     "add USERNAME",
			Short:   "Add a user with --role admin|user",
			Example: `  echo "$PASSWORD" | marquee user add ada --role admin`,
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withUsers(cmd, func(ctx context.Context, u *catalogsvc.Users) error {
					pw := cfg.NewPassword
					if pw == "" {
						line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
						if err != nil && !errors.Is(err, io.EOF) {
							return fmt.Errorf("read the password from standard input: %w", err)
						}
						pw = strings.TrimRight(line, "\r\n")
					}
					info, err := u.Add(ctx, args[0], pw, cfg.Role)
					if err != nil {
						return err
					}
					_, err = fmt.Fprintf(stdout, "Added %s (%s).\n", info.Username, info.Role)
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "list",
			Short: "List the users and their roles",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withUsers(cmd, func(ctx context.Context, u *catalogsvc.Users) error {
					list, err := u.List(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "USERNAME\tROLE\tCREATED")
					for _, info := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", info.Username, info.Role, info.CreatedAt.Format(time.RFC3339))
					}
					return tw.Flush()
				})
			},
		},
		&cobra.Command{
			Use:   "remove USERNAME",
			Short: "Remove a user (never the last admin)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withUsers(cmd, func(ctx context.Context, u *catalogsvc.Users) error {
					if err := u.Remove(ctx, args[0]); err != nil {
						return err
					}
					_, err := fmt.Fprintf(stdout, "Removed %s.\n", args[0])
					return err
				})
			},
		},
	)
	return parent
}

// clientError turns a coded error into the message a person at a terminal needs, with field problems.
func clientError(err error) error {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return err
	}
	return errors.New(describe(e.Message, e.Fields))
}
