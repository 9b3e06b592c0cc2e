mod oracle;
mod formats;
