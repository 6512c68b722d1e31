package kerberos

import "fmt"

// DefaultRealm returns default_realm of the krb5.conf at path ("" when it names none).
func DefaultRealm(krb5Conf string) (string, error) {
	conf, err := loadKrb5Conf(krb5Conf)
	if err != nil {
		return "", fmt.Errorf("krb5.conf %s: %w", krb5Conf, err)
	}
	return conf.LibDefaults.DefaultRealm, nil
}
