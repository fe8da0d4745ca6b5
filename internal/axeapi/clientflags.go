package axeapi

import "flag"

// RegisterFlags binds the fields a command sets to flags on fs, with c's
// values as defaults: -api-base-url, -app-key, -app-secret, -api-ca-file
// and -api-timeout (PN_API_BASE_URL, PN_APP_KEY, PN_APP_SECRET,
// PN_API_CA_FILE and PN_API_TIMEOUT through daemon.Parse). Every command
// that calls the platform registers them here, so that all spell them
// alike.
func (c *ClientConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.BaseURL, "api-base-url", c.BaseURL, "platform API base URL (https; http only on loopback, for a local simulator)")
	fs.StringVar(&c.AppKey, "app-key", c.AppKey, "platform app key")
	fs.StringVar(&c.AppSecret, "app-secret", c.AppSecret, "platform app secret: signs the API calls (never logged or printed)")
	fs.StringVar(&c.CAFile, "api-ca-file", c.CAFile, "PEM file of the CA of the platform API's certificate (default: the system roots)")
	fs.DurationVar(&c.Timeout, "api-timeout", c.Timeout, "timeout of each platform API call")
}
