// Package kerberos makes yarngate a Kerberos client of a secured Hadoop cluster: it logs the gateway's
// principal in from a keytab (gokrb5), keeps its ticket-granting ticket fresh, reports the ticket's expiry as
// a metric and, when there is no valid ticket, a reason that is safe to show to any client; and it
// authenticates HTTP requests with SPNEGO, one endpoint (host:port) at a time.
//
// # Tickets
//
// New builds a Login and does no I/O. Check reads krb5.conf and the keytab once, without asking the KDC, and
// returns a *SetupError (the setting, the file, what is wrong) when a login cannot succeed whatever the KDC says;
// the composition root refuses to start with it. Run, which the composition root starts and stops, logs in, renews the
// ticket at Options.RefreshFraction of its lifetime (a TGS renewal while the ticket is renewable, a new AS
// login from the keytab when it is not or when the renewal fails), and retries failures with bounded
// backoff. The keytab and krb5.conf are read again for every login, so a rotated keytab is picked up.
//
// Consumers ask Client for the current gokrb5 client. Each login or renewal yields a new client that holds
// the ticket in memory; gokrb5 starts no goroutine for it (it is built as from a credentials cache, not
// from a keytab), so every goroutine of this package belongs to Run. A consumer that keeps a client (an
// HDFS connection pool, say) compares pointers to see that the credentials changed.
//
// # SPNEGO
//
// NewTransport returns an http.RoundTripper for one endpoint: it sends an AP-REQ for HTTP/<host of the
// URL> with the first request, keeps the endpoint's authentication cookie (Hadoop's hadoop.auth), sends the
// cookie instead afterwards, and negotiates once more when the server answers 401 Negotiate (an expired
// cookie). Cookies are scoped by host, not port, in browsers and in net/http/cookiejar, so two Hadoop
// services on one host would overwrite each other's cookie in a shared jar: every endpoint gets a Transport
// and jar of its own. NewEndpoints routes each request to the Transport of its host:port, creating them on
// first use. A RoundTripper never follows redirects; clients built here return a 3xx to their caller, who
// decides where to go (the ResourceManager client finds the active ResourceManager itself). gokrb5's own
// spnego.Client is not used: it follows redirects and counts them over its lifetime
// (github.com/jcmturner/gokrb5 issue 530).
//
// Dependency rule: kerberos is a client package. It imports gokrb5 and Prometheus, never the HTTP layer or
// another yarngate package; the composition root (package app) hands its clients to hdfs and yarnclient.
package kerberos
