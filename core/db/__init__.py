"""Database plumbing of tenancy: the tenant sent to PostgreSQL with every transaction
(`tenant_setting`), the backend that installs it (`backend`), row-level security policies
(`rls`), the roles the app and its migrations connect as (`roles`), and which constraint an
IntegrityError names (`constraints`)."""
