mod formats;
mod oracle;
