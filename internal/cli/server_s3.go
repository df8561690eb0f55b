package cli

import (
	"github.com/spf13/pflag"

	"github.com/db9/db9/internal/config"
)

// addS3Flags adds the flags of the S3-compatible storage that function
// bundles may come from (bundle_ref s3://<bucket>/<key>).
func addS3Flags(f *pflag.FlagSet, c *config.S3) {
	f.StringVar(&c.Endpoint, "s3-endpoint", c.Endpoint, "S3-compatible storage for s3:// function bundles: host[:port] or http(s)://host[:port]; empty: none [DB9_S3_ENDPOINT]")
	f.StringVar(&c.Region, "s3-region", c.Region, "region of --s3-buckets (default: asked of the storage) [DB9_S3_REGION, AWS_REGION]")
	f.StringVar(&c.AccessKey, "s3-access-key", c.AccessKey, "access key id of --s3-endpoint; prefer the environment [DB9_S3_ACCESS_KEY, AWS_ACCESS_KEY_ID]")
	f.StringVar(&c.SecretKey, "s3-secret-key", c.SecretKey, "secret access key of --s3-endpoint; prefer the environment [DB9_S3_SECRET_KEY, AWS_SECRET_ACCESS_KEY]")
	f.BoolVar(&c.Insecure, "s3-insecure", c.Insecure, "plain HTTP to --s3-endpoint (a local S3-compatible server) [DB9_S3_INSECURE]")
	f.StringSliceVar(&c.Buckets, "s3-buckets", c.Buckets, "buckets function bundles may be deployed from (required with --s3-endpoint: every customer may deploy any object in them) [DB9_S3_BUCKETS]")
	// The AWS CLI's names, for operators who type those.
	f.StringVar(&c.AccessKey, "s3-access-key-id", c.AccessKey, "same as --s3-access-key")
	f.StringVar(&c.SecretKey, "s3-secret-access-key", c.SecretKey, "same as --s3-secret-key")
	_ = f.MarkHidden("s3-access-key-id")
	_ = f.MarkHidden("s3-secret-access-key")
}
