//! DNS records for a mail domain.
